"""Token sequences: the vocabulary every token-reading estimator shares.

A token sequence is a list of strings (tokens); the sequence estimators that
read tokens (``SequenceClassifier``, ``SequenceRegressor``, and ``SequenceModel``
and ``SequenceAutoencoder`` given lists of tokens) map them to integer ids with
one :class:`Vocabulary` and look the ids up in a learned embedding. Reserved ids
come first: 0 is the out-of-vocabulary token (every token not kept shares its
vector), 1 the end-of-sequence marker a language model predicts after the last
token. The same vocabulary travels with a pretrained model into the classifier
it initialises (``init_from``), so their ids agree.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from .._errors import InputError, ModelFileError

__all__ = ["Vocabulary", "OOV", "END", "ANALYZERS", "TOKENIZERS", "tokenize",
           "as_token_sequences", "is_token_input", "saved_tokenizer"]

#: The out-of-vocabulary token (id 0) and the end-of-sequence marker (id 1).
OOV, END = "<unk>", "</s>"
_RESERVED = (OOV, END)


#: How a string of words becomes tokens (:func:`tokenize`).
TOKENIZERS = ("default", "whitespace")

# A chunk is a run of characters between blanks; 0x85 and 0x1c-0x1f are characters of a
# word here (latin-1 text such as rt-polarity holds 0x85 inside words), not blanks.
_CHUNK = re.compile(r"(?:[^\s]|[\x1c-\x1f\x85])+")
_LEAD = re.compile(r'^[("\u201c\u2018\u00bf\u00a1]+')
_TRAIL = re.compile(r'(?:\.{2,}|\u2026|[.,!?;:)"\u201d\u2019])+$')
_PUNCT = re.compile(r"\.{2,}|.", re.S)


def tokenize(text: str, tokenizer: str = "default") -> list[str]:
    """The tokens of one string of words.

    ``"default"``: lower-cased (``str.lower``), cut at blanks, then the punctuation
    at either end of a word split off as tokens of its own: opening ``( " “ ‘ ¿ ¡``
    before it, and ``. , ! ? ; : ) " ” ’`` after it, each a token (``...`` and
    ``…`` one token). Punctuation inside a word stays in it: ``"don't"``,
    ``"it's"``, ``"co-writer/director"``, ``"$9.50"``, ``"1,000"`` and ``"u.s"`` are one
    token each; single quotes and brackets are never split off (``'70s``, ``[a]``);
    numbers are kept. A chunk without a letter or digit (``--``, ``...``, ``:-)``) is one
    token. So ``"Absolutely BRILLIANT!"`` gives ``["absolutely", "brilliant", "!"]``,
    and a text that is already lower-cased and tokenised this way (the rt-polarity
    sentences) keeps its tokens. scikit-learn's ``CountVectorizer`` pattern
    (``\\b\\w\\w+\\b``) drops punctuation and one-letter words, which carry sentiment
    here (``!``, ``i``), hence this rule.

    ``"whitespace"``: split on whitespace (``str.split``), case kept: the rule of
    models saved before the tokenizer setting existed.

    A leading byte order mark is dropped in both.
    """
    text = text.lstrip("\ufeff")
    if tokenizer == "whitespace":
        return text.split()
    if tokenizer != "default":
        raise ValueError(f"unknown tokenizer {tokenizer!r}; valid: {', '.join(TOKENIZERS)}")
    return split_words(text.lower(), _CHUNK, _LEAD, _TRAIL, _PUNCT)


def split_words(text: str, chunk_re, lead_re, trail_re, punct_re) -> list[str]:
    """The ``default`` rule of :func:`tokenize` with its four patterns given (the ONNX
    export writes them to JSON, and its reader passes them back)."""
    out: list[str] = []
    for chunk in chunk_re.findall(text):
        if not any(c.isalnum() for c in chunk):
            out.append(chunk)
            continue
        lead = lead_re.match(chunk)
        head = lead.group() if lead else ""
        core = chunk[len(head):]
        trail = trail_re.search(core)
        tail = trail.group() if trail else ""
        core = core[: len(core) - len(tail)]
        out += [*head, *([core] if core else []), *punct_re.findall(tail)]
    return out


def is_token_input(X, *, strings_are_tokens: bool) -> bool:
    """Whether ``X`` is token sequences: lists of strings, or (``strings_are_tokens``)
    strings, which the estimator splits into tokens (:func:`as_token_sequences`)."""
    if isinstance(X, str | bytes) or isinstance(X, np.ndarray) or not hasattr(X, "__len__"):
        return False
    if len(X) == 0:
        return False
    first = X[0]
    if isinstance(first, str):
        return strings_are_tokens
    if isinstance(first, list | tuple) and len(first) > 0 and isinstance(first[0], str):
        return True
    return False


#: How a string becomes tokens: ``word`` splits it into words (by a tokenizer,
#: :data:`TOKENIZERS`), ``char`` makes every character a token (symbol strings such as
#: ``"BTSXSE"``; whitespace included, case kept: no tokenizer applies).
ANALYZERS = ("word", "char")


def saved_tokenizer(config: dict, *, tokens_only: bool = False) -> dict:
    """A model file's ``config`` with ``tokenizer="whitespace"`` in its params when they
    have none: files saved before the setting existed split on whitespace, case kept,
    and load that way. ``tokens_only``: only files of models that read tokens (a
    ``vocabulary``); the others keep the default, which applies to every other input."""
    params = config.get("params")
    if tokens_only and config.get("vocabulary") is None:
        return config
    if isinstance(params, dict) and "tokenizer" not in params:
        return {**config, "params": {**params, "tokenizer": "whitespace"}}
    return config


def as_token_sequences(X, *, split_strings: bool = True, analyzer: str = "word",
                       tokenizer: str = "whitespace") -> list[list[str]]:
    """Lists of tokens: each item a list (or tuple) of strings, used as given, or a string
    split by ``analyzer`` (:data:`ANALYZERS`; with ``split_strings``; a leading byte order
    mark dropped), ``word`` strings by :func:`tokenize` with ``tokenizer`` (the estimators
    pass their own setting; this default, ``"whitespace"``, is the rule of the model files
    saved before that setting existed), ``char`` strings into characters as they are.
    Empty sequences and non-string tokens are errors naming the sequence."""
    if analyzer not in ANALYZERS:
        raise ValueError(f"unknown analyzer {analyzer!r}; valid: {', '.join(ANALYZERS)}")
    if tokenizer not in TOKENIZERS:
        raise ValueError(f"unknown tokenizer {tokenizer!r}; valid: {', '.join(TOKENIZERS)}")
    if isinstance(X, str):
        raise InputError("expected a list of sequences, got one string (wrap it in a list)")
    out = []
    for i, s in enumerate(X):
        if isinstance(s, str):
            if not split_strings:
                raise InputError("expected a list of tokens, got a string", index=i)
            if analyzer == "word":
                tokens = tokenize(s, tokenizer)
            else:
                tokens = list(s.lstrip("\ufeff"))  # a byte order mark is no token
        elif isinstance(s, list | tuple):
            tokens = list(s)
            bad = next((j for j, t in enumerate(tokens) if not isinstance(t, str)), None)
            if bad is not None:
                raise InputError(f"token {bad} is a {type(tokens[bad]).__name__}, not a "
                                 "string", index=i)
        else:
            raise InputError(f"expected a string or a list of tokens, got "
                             f"{type(s).__name__}", index=i)
        if not tokens:
            raise InputError("empty sequence (no tokens)", index=i)
        out.append(tokens)
    if not out:
        raise InputError("no sequences")
    return out


class Vocabulary:
    """Token -> id, learned from training sequences.

    Parameters
    ----------
    tokens : sequence of str
        The kept tokens, most frequent first; ids start at 2 (0 is :data:`OOV`,
        1 is :data:`END`).
    """

    def __init__(self, tokens: Sequence[str]):
        tokens = list(tokens)
        clash = [t for t in tokens if t in _RESERVED]
        if clash:
            raise ValueError(f"reserved token {clash[0]!r} in the vocabulary")
        self.tokens = tokens
        self.index = {t: i + len(_RESERVED) for i, t in enumerate(tokens)}
        if len(self.index) != len(tokens):
            raise ValueError("the vocabulary repeats a token")

    @classmethod
    def learn(cls, sequences: Iterable[Sequence[str]], *, min_count: int = 1,
              max_features: int | None = None) -> Vocabulary:
        """The tokens seen at least ``min_count`` times, the ``max_features`` most frequent
        (ties broken alphabetically, so the result does not depend on the order)."""
        counts = Counter(t for s in sequences for t in s if t not in _RESERVED)
        kept = sorted((t for t, c in counts.items() if c >= min_count),
                      key=lambda t: (-counts[t], t))
        if max_features is not None:
            kept = kept[: int(max_features)]
        return cls(kept)

    def __len__(self) -> int:
        """Number of ids, the reserved ones included (the embedding's rows)."""
        return len(self.tokens) + len(_RESERVED)

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocabulary) and self.tokens == other.tokens

    __hash__ = None  # type: ignore[assignment]

    def encode(self, tokens: Sequence[str], *, end: bool = False) -> np.ndarray:
        """int32 ids of ``tokens`` (unknown ones -> 0), with the end marker if ``end``."""
        ids = [self.index.get(t, 0) for t in tokens]
        if end:
            ids.append(1)
        return np.asarray(ids, np.int32)

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens of ``ids`` (the reserved ones as :data:`OOV` and :data:`END`)."""
        words = [*_RESERVED, *self.tokens]
        return [words[int(i)] for i in ids]

    def oov_fraction(self, sequences: Sequence[Sequence[str]]) -> float:
        """Fraction of the tokens of ``sequences`` that are out of the vocabulary."""
        total = sum(len(s) for s in sequences)
        unknown = sum(t not in self.index for s in sequences for t in s)
        return unknown / max(total, 1)

    # -- files ---------------------------------------------------------------------------------
    def to_config(self) -> list[str]:
        return list(self.tokens)

    @classmethod
    def from_config(cls, tokens, path) -> Vocabulary:
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise ModelFileError(f"{path}: the vocabulary is not a list of tokens")
        try:
            return cls(tokens)
        except ValueError as exc:
            raise ModelFileError(f"{path}: {exc}") from None


def pad_ids(seqs: Sequence[np.ndarray], length: int) -> tuple[np.ndarray, np.ndarray]:
    """``(ids (n, length) int32, lengths (n,) int32)``: zero-padded id sequences."""
    ids = np.zeros((len(seqs), int(length)), np.int32)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
    return ids, np.array([len(s) for s in seqs], np.int32)
