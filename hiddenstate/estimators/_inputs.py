"""What a sequence is: the one reader every sequence estimator uses.

A user gives a sequence estimator one of these kinds of input (:data:`KINDS`):

``symbols``
    Strings of symbols (``"BTSXSE"``), each symbol one step, read as one-hot rows
    over an alphabet (:class:`~hiddenstate.SequenceModel`).
``tokens``
    Lists of tokens (lists of str), or strings split into tokens by ``analyzer``
    (``word``: by ``tokenizer``; ``char``: every character a token), read as integer
    ids of a :class:`~hiddenstate.estimators._tokens.Vocabulary`.
``sequences``
    A list of ``(T_i, d)`` arrays (lengths may differ), or one ``(n, T, d)`` array:
    real-valued sequences, read as float32.
``table``
    A 2-D array ``(n, T)`` (or a list of equal-length rows): ``n`` sequences of ``T``
    steps of one value each, the scikit-learn array path of
    :class:`~hiddenstate.SequenceClassifier` and :class:`~hiddenstate.SequenceRegressor`.

Which of these a list of strings is (``symbols`` or ``tokens``) is the estimator's
choice (``strings=``); everything else is decided here, once. A masked array
(``numpy.ma``) is read as its kind; a masked step is a missing value, like a NaN: it is
refused, naming the sequence, the step and the feature (a mask with nothing masked is
accepted), unless the estimator's ``missing="interpolate"`` fills it from its
neighbours. Every refusal is an :class:`~hiddenstate.InputError` whose ``index``,
``step`` and ``channel`` say where, with the same text from every estimator.

Per-series rules (scaling, a missing-value rule) belong in :func:`read_sequences`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from .._errors import InputError
from ._tokens import Vocabulary, as_token_sequences, is_token_input

__all__ = ["KINDS", "Sequences", "input_kind", "check_kind", "check_settings", "check_table",
           "read_sequences", "read_symbols", "read_arrays", "read_table", "kind_words"]

#: The kinds of input a sequence estimator may read (see the module docstring).
KINDS = ("symbols", "tokens", "sequences", "table")

#: How messages name each kind: ``(what a model was trained on, plural subject)``.
_NAMES = {"symbols": ("symbol strings", "symbol strings"),
          "tokens": ("token sequences (text or lists of tokens)", "token sequences"),
          "sequences": ("real-valued sequences (a list of (T, d) arrays)",
                        "real-valued sequences"),
          "table": ("a 2-D array (one sequence of values per row)", "2-D arrays")}
_WORDS = {kind: names[0] for kind, names in _NAMES.items()}
_PLURAL = {kind: names[1] for kind, names in _NAMES.items()}

#: Why an estimator that does not read a kind refuses it (the same words from each).
_REFUSED = {
    "table": ("a 2-D array is read as sequences of one value per step only by "
              "SequenceClassifier and SequenceRegressor; give a list of (T, d) arrays "
              "(one value per step: list(X[:, :, None]))"),
    "symbols": "symbol strings are read only by SequenceModel; give lists of tokens",
}

#: Settings that apply to some kinds of input only: ``name -> (default, kinds, what)``.
#: A fresh fit on another kind refuses a value other than the default.
_SETTINGS = {
    "markers": ("auto", ("symbols",), "symbol strings"),
    "analyzer": ("word", ("tokens",), "token sequences"),
    "tokenizer": ("default", ("tokens",), "token sequences"),
}
_SETTING_NOTES = {("markers", "tokens"): " (their vocabulary has its own end marker)"}


def kind_words(kind: str) -> str:
    """How messages name a kind of input."""
    return _WORDS[kind]


@dataclasses.dataclass
class Sequences:
    """What :func:`read_sequences` returns.

    Attributes
    ----------
    arrays : list of ndarray
        ``(T_i,)`` int32 ids (tokens) or ``(T_i, d)`` float32 rows (the others).
    lengths : ndarray of int
        ``T_i`` of each sequence.
    kind : str
        One of :data:`KINDS`.
    vocabulary : Vocabulary or None
        The vocabulary of the ids (tokens: the one given, or learned when fitting).
    alphabet : str or None
        The symbols (symbol strings: the one given, or learned when fitting).
    """

    arrays: list[np.ndarray]
    lengths: np.ndarray
    kind: str
    vocabulary: Vocabulary | None = None
    alphabet: str | None = None

    @property
    def n_features(self) -> int | None:
        """Values per step (None for ids)."""
        return None if self.arrays[0].ndim == 1 else int(self.arrays[0].shape[1])


def input_kind(X, *, strings: str = "tokens", missing: str = "error") -> str:
    """The kind of ``X`` (:data:`KINDS`); ``strings``: what a list of strings is
    (``"symbols"`` or ``"tokens"``). One string, ``None`` and an empty ``X`` are refused,
    and so is a masked value unless ``missing="interpolate"`` (:data:`MISSING`)."""
    if isinstance(X, str | bytes):
        raise InputError("expected a list of sequences, got one string (wrap it in a list)")
    if X is None or (hasattr(X, "__len__") and not hasattr(X, "shape") and len(X) == 0) or (
            hasattr(X, "shape") and len(X.shape) > 0 and X.shape[0] == 0):
        raise InputError("no sequences")
    if np.ma.isMaskedArray(X):  # a missing value is refused before any kind is
        _unmasked(X, None, missing)
    if hasattr(X, "columns"):  # a data frame: a table, its columns the steps
        return "table"
    if hasattr(X, "iloc"):  # a pandas Series (of texts): its values
        X = np.asarray(X)
    if isinstance(X, np.ndarray) and X.ndim == 1 and X.dtype.kind in "USO" and X.size:
        X = X.tolist()  # an array of texts (a pandas column's values)
    if is_token_input(X, strings_are_tokens=True):
        return strings if isinstance(X[0], str) else "tokens"
    if isinstance(X, np.ndarray) and X.ndim == 3 or (
            isinstance(X, list | tuple) and np.ndim(X[0]) == 2 and not isinstance(X[0], str)):
        return "sequences"
    return "table"


def check_kind(kind: str, *, accepted: Sequence[str], trained: str | None = None) -> None:
    """Refuse a kind the estimator does not read, or (``trained``) not the kind it was
    fitted on."""
    if kind not in accepted:
        raise InputError(_REFUSED.get(kind, f"{_WORDS[kind]} are not read by this model"))
    if trained is not None and kind != trained:
        raise InputError(f"this model was trained on {_WORDS[trained]}, not {_WORDS[kind]}")


def check_settings(estimator, kind: str) -> None:
    """Refuse (at a fresh fit) an input setting of ``estimator`` (``markers``,
    ``analyzer``, ``tokenizer``) given a value other than its default for a kind of
    input it does not apply to: the same setting means the same everywhere."""
    for name, (default, kinds, what) in _SETTINGS.items():
        value = getattr(estimator, name, default)
        if kind not in kinds and value != default:
            raise ValueError(f"{name}={value!r} applies to {what}; {_PLURAL[kind]} take "
                             f"{name}={default!r}" + _SETTING_NOTES.get((name, kind), ""))


# -- the kinds ---------------------------------------------------------------------------------
def read_symbols(X, alphabet: str, *, markers: bool = False,
                 min_steps: int = 1) -> list[np.ndarray]:
    """Each string's one-hot rows ``(len, len(alphabet))`` float32; with ``markers``,
    between the reserved boundary (index ``len(alphabet)``, one more column) before the
    first symbol and after the last. A string needs ``min_steps`` symbols (counting the
    markers)."""
    index = {c: i for i, c in enumerate(alphabet)}
    n = len(alphabet)
    eye = np.eye(n + int(markers), dtype=np.float32)
    out = []
    for i, s in enumerate(X):
        if not isinstance(s, str):
            raise InputError(f"expected a string, got {type(s).__name__}", index=i)
        if len(s) + 2 * int(markers) < min_steps:
            raise InputError(f"a string needs at least {min_steps} symbols (an input and a "
                             "next one)", index=i)
        codes = np.empty(len(s) + 2 * int(markers), np.int64)
        for j, ch in enumerate(s):
            if ch not in index:
                raise _located(f"symbol {ch!r} is not in the alphabet {alphabet!r}", i, j,
                               column=j + 1)
            codes[j + int(markers)] = index[ch]
        if markers:
            codes[0] = codes[-1] = n
        out.append(eye[codes])
    return out


def read_arrays(X, *, n_features: int | None = None,
                missing: str = "error") -> list[np.ndarray]:
    """``(T_i, d)`` float32 arrays of a list of arrays (or one ``(n, T, d)`` array), all
    of one width (``n_features``: the model's); ``missing``: see :data:`MISSING`."""
    out = []
    width = n_features
    for i, x in enumerate(X):
        a = _unmasked(x, i, missing)
        try:
            a = np.asarray(a)
            if a.dtype != np.float32:
                a = a.astype(np.float64)
        except (TypeError, ValueError):
            raise InputError("not a numeric (T, d) array", index=i) from None
        if a.ndim != 2:
            raise InputError(f"expected a (T, d) array, got shape {a.shape}", index=i)
        if a.shape[0] == 0:
            raise InputError("empty sequence (0 steps)", index=i)
        if width is None:
            width = a.shape[1]
        if a.shape[1] != width:
            what = "the first sequence's" if n_features is None else "the model's"
            raise InputError(f"has {a.shape[1]} features per step, {what} width is {width}",
                             index=i)
        out.append(_finite32(_filled(a, i, missing), i))
    return out


def check_table(X, missing: str = "error"):
    """``X`` (a 2-D table) with its mask checked and dropped, and a list of rows checked
    to have one length: what a caller checks before scikit-learn's ``validate_data``,
    which would drop the mask and name no row."""
    if isinstance(X, list | tuple):
        widths = [np.ndim(r) and len(r) for r in X]
        bad = next((i for i, w in enumerate(widths) if w != widths[0]), None)
        if bad is not None:
            raise InputError(f"has {widths[bad]} steps, the first row has {widths[0]}: the "
                             "rows of a 2-D array are sequences of one length", index=bad)
    return _unmasked(X, None, missing)


def read_table(X, *, columns=None, missing: str = "error") -> list[np.ndarray]:
    """The rows of a 2-D array ``(n, T)`` as ``(T, 1)`` float32 sequences (``columns``:
    the names of the steps, for messages; ``missing``: see :data:`MISSING`)."""
    a = np.asarray(check_table(X, missing))
    if a.dtype != np.float32:
        a = a.astype(np.float64)
    if a.ndim != 2:
        raise InputError(f"expected a 2-D array (n, T), got shape {a.shape}")
    return [_finite32(_filled(r[:, None], i, missing), i, columns) for i, r in enumerate(a)]


def _unmasked(a, index: int | None, missing: str = "error"):
    """``a`` without its mask; a masked (missing) value is refused where it is, or (with
    ``missing="interpolate"``) becomes NaN, for :func:`_filled`."""
    if not np.ma.isMaskedArray(a):
        return a
    mask = np.ma.getmaskarray(a)
    if mask.any() and missing == "interpolate":
        return np.ma.filled(a.astype(np.float64), np.nan)
    if mask.any():
        where = tuple(int(k) for k in np.argwhere(mask)[0])
        if index is None:  # a 2-D table (n, T) or a 3-D array (n, T, d)
            index, where = where[0], where[1:]
        step = where[0] if where else 0
        channel = where[1] if len(where) > 1 else 0
        raise _located(f"masked (missing) value at step {step}, feature {channel}: "
                       f"{_MISSING_HINT}", index, step, channel=channel)
    return np.ma.getdata(a)


#: What ``missing`` may be: refuse a missing value (NaN, a masked value) with its
#: position, or fill it by linear interpolation along the steps of its channel (the
#: nearest value at either end).
MISSING = ("error", "interpolate")

_MISSING_HINT = ("pass missing='interpolate' (--missing interpolate) to fill missing values "
                 "from their neighbours, or fill them yourself")


def _filled(a: np.ndarray, i: int, missing: str) -> np.ndarray:
    """``a`` ``(T, d)`` with its NaNs interpolated when ``missing="interpolate"``."""
    if missing != "interpolate" or a.dtype.kind != "f":
        return a
    gaps = np.isnan(a)
    if not gaps.any():
        return a
    a = a.astype(np.float64)
    steps = np.arange(len(a))
    for j in np.flatnonzero(gaps.any(axis=0)):
        known = ~gaps[:, j]
        if not known.any():
            raise _located(f"feature {j} has no value at any step: nothing to interpolate "
                           "from", i, 0, channel=int(j))
        a[:, j] = np.interp(steps, steps[known], a[known, j])
    return a


def _finite32(a: np.ndarray, i: int, columns=None) -> np.ndarray:
    """``a`` as float32, refusing a non-finite value or one beyond float32's range."""
    finite = np.isfinite(a)
    if not finite.all():
        t, j = (int(k) for k in np.argwhere(~finite)[0])
        v = a[t, j]
        what = "NaN" if np.isnan(v) else ("inf" if v > 0 else "-inf")
        name = f" ({columns[t]!r})" if columns is not None else ""
        hint = f": {_MISSING_HINT}" if what == "NaN" else ""
        raise _located(f"non-finite value at step {t}{name}, feature {j} ({what}){hint}", i, t,
                       channel=j)
    if a.dtype == np.float64:
        with np.errstate(over="ignore"):
            big = ~np.isfinite(a.astype(np.float32))
        if big.any():
            t, j = (int(k) for k in np.argwhere(big)[0])
            raise _located(f"{a[t, j]:g} at step {t}, feature {j}, beyond float32's range "
                           "(the models compute in float32)", i, t, channel=j)
    return a.astype(np.float32)


def _located(message: str, index: int, step: int, *, channel: int | None = None,
             column: int | None = None) -> InputError:
    return InputError(message, index=index, column=column, step=step, channel=channel)


# -- the whole input ---------------------------------------------------------------------------
def read_sequences(X, *, accepted: Sequence[str] = KINDS, strings: str = "tokens",
                   kind: str | None = None, trained: str | None = None,
                   vocabulary: Vocabulary | None = None, min_count: int = 1,
                   max_features: int | None = None, end: bool = False,
                   analyzer: str = "word", tokenizer: str = "default",
                   alphabet: str | None = None, markers: bool = False, min_steps: int = 1,
                   n_features: int | None = None, columns=None,
                   missing: str = "error") -> Sequences:
    """Read ``X`` into a model's arrays, lengths and vocabulary.

    Parameters
    ----------
    X : list of str, list of lists of str, list of (T_i, d) arrays, 2-D array
        The input (see the module docstring).
    accepted : kinds the estimator reads; others are refused with one message each.
    strings : ``"tokens"`` or ``"symbols"``: what a list of strings is.
    kind : the kind of ``X`` when the caller has read it (:func:`input_kind`).
    trained : the kind a fitted model read; another is refused.
    vocabulary : the fitted vocabulary (tokens); None: learn one (``min_count``,
        ``max_features``). ``end``: add the end marker to each id sequence.
    analyzer, tokenizer : how strings become tokens (``strings="tokens"``).
    alphabet, markers, min_steps : symbol strings (:func:`read_symbols`).
    n_features : the fitted width of real-valued sequences; None: the first one's.
    columns : names of a table's steps (messages).
    missing : real-valued input's missing values (NaN, masked): ``"error"`` refuses
        them with their position, ``"interpolate"`` fills them (:data:`MISSING`).
    """
    kind = input_kind(X, strings=strings, missing=missing) if kind is None else kind
    check_kind(kind, accepted=accepted, trained=trained)
    if kind == "tokens":
        if isinstance(X, np.ndarray) or hasattr(X, "iloc"):
            X = np.asarray(X).tolist()
        seqs = as_token_sequences(X, split_strings=strings == "tokens", analyzer=analyzer,
                                  tokenizer=tokenizer)
        if vocabulary is None:
            vocabulary = Vocabulary.learn(seqs, min_count=int(min_count),
                                          max_features=None if max_features is None
                                          else int(max_features))
        arrays = [vocabulary.encode(s, end=end) for s in seqs]
    elif kind == "symbols":
        if alphabet is None:
            alphabet = "".join(sorted(set("".join(X))))
        arrays = read_symbols(X, alphabet, markers=markers, min_steps=min_steps)
    elif kind == "sequences":
        arrays = read_arrays(X, n_features=n_features, missing=missing)
    else:
        arrays = read_table(X, columns=columns, missing=missing)
    return Sequences(arrays, np.array([len(a) for a in arrays], np.int64), kind,
                     vocabulary if kind == "tokens" else None,
                     alphabet if kind == "symbols" else None)
