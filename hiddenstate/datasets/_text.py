"""Symbol streams and sentence data: one-hot permutation streams, the movie-review sentences."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._errors import InputError

__all__ = ["make_permutation_streams", "one_hot", "load_rt_polarity", "load_labelled_text"]


def _rng(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def make_permutation_streams(
    n: int, n_symbols: int = 8, *, rng: np.random.Generator | int | None = None
) -> np.ndarray:
    """``n`` random orders of the symbols ``0..n_symbols-1``: int32 ``(n, n_symbols)``.

    Row ``r`` is the stream of seed 000 (the rows of ``eye(n_symbols)`` in a
    fresh random order); :func:`one_hot` turns it into ``(n, n_symbols,
    n_symbols)`` one-hot vectors.
    """
    n, n_symbols = int(n), int(n_symbols)
    if n < 0 or n_symbols < 1:
        raise ValueError(f"need n >= 0 and n_symbols >= 1, got n={n}, n_symbols={n_symbols}")
    return np.argsort(_rng(rng).random((n, n_symbols)), axis=1).astype(np.int32)


def one_hot(symbols: np.ndarray, n_symbols: int) -> np.ndarray:
    """float32 one-hot vectors of integer ``symbols`` (any shape ``S`` -> ``S + (n_symbols,)``)."""
    return np.eye(int(n_symbols), dtype=np.float32)[np.asarray(symbols)]


def _read_sentences(path: Path) -> list[list[str]]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError("file not found", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror}", path=path) from None
    if not raw.strip():
        raise InputError("the file is empty", path=path)
    sentences = []
    # A UTF-8 byte order mark (an editor's) is no part of the first word.
    lines = raw.removeprefix(b"\xef\xbb\xbf").decode("latin-1").split("\n")
    while lines and not lines[-1].strip(" \t\r"):  # blank lines at the end: no sentences
        lines.pop()
    for number, line in enumerate(lines, start=1):
        # Split on ASCII blanks only: the text holds latin-1 bytes such as 0x85
        # that Python would otherwise treat as line or word breaks.
        words = [w for w in line.rstrip("\r").replace("\t", " ").split(" ") if w]
        if not words:
            raise InputError("empty sentence (a blank line)", path=path, line=number)
        sentences.append(words)
    if not sentences:
        raise InputError("the file is empty", path=path)
    return sentences


def load_rt_polarity(
    path: str | os.PathLike,
) -> tuple[list[list[str]], np.ndarray]:
    """The sentence polarity data v1.0 (Pang & Lee 2005): ``(sentences, labels)``.

    ``path`` is the folder holding ``rt-polarity.pos`` and ``rt-polarity.neg``
    (latin-1, one lower-cased, tokenised sentence per line). Sentences are
    lists of words (split on whitespace); ``labels`` is int64, 1 = positive,
    0 = negative; positives come first, in file order.

    Raises
    ------
    InputError
        A missing or empty file, or a blank line (an empty sentence), naming
        the file and the line.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise InputError("not a folder holding rt-polarity.pos and rt-polarity.neg", path=folder)
    pos = _read_sentences(folder / "rt-polarity.pos")
    neg = _read_sentences(folder / "rt-polarity.neg")
    labels = np.concatenate([np.ones(len(pos), np.int64), np.zeros(len(neg), np.int64)])
    return pos + neg, labels


#: The rt-polarity folder's labels, as :func:`load_rt_polarity` codes them.
_POLARITY = {1: "positive", 0: "negative"}


def load_labelled_text(
    path: str | os.PathLike, labels: str | os.PathLike | None = None, *,
    what: str = "sentence", encoding: str = "utf-8",
) -> tuple[list, list[str]]:
    """Labelled text: an rt-polarity folder, or a text file and its labels file.

    Parameters
    ----------
    path : str or PathLike
        A folder holding ``rt-polarity.pos`` and ``rt-polarity.neg``
        (:func:`load_rt_polarity`), or a text file of one ``what`` per line.
    labels : str or PathLike, optional
        For a text file (required there, refused for a folder): one label per
        line, as many lines as ``path``. Labels that are numbers are taken by
        value (``1``, ``1.0`` and ``+1`` are the class ``1``).
    what : str, default "sentence"
        What one line is, as errors name it ("sequence", ...).
    encoding : str, default "utf-8"
        The text file's and the labels file's encoding (a BOM allowed).

    Returns
    -------
    texts : list
        A folder's sentences as word lists, or the text file's lines (stripped).
    labels : list of str
        ``"positive"``/``"negative"`` for a folder, else the labels as read.

    Raises
    ------
    InputError
        A missing path, a text file without labels (or a folder with them), a blank
        line or undecodable bytes (the file and line), or files of different
        lengths (the first line without a partner, and both counts).
    """
    from ._lines import read_labels, read_lines

    folder = Path(path)
    if folder.is_dir():
        if labels is not None:
            raise InputError("a labels file is for a text file; an rt-polarity folder holds "
                             "its own labels", path=path)
        texts, values = load_rt_polarity(folder)
        return texts, [_POLARITY[int(v)] for v in values]
    if not folder.exists():
        raise InputError(f"no such file or folder (a text file of one {what} per line with "
                         "a labels file, or a folder holding rt-polarity.pos and "
                         "rt-polarity.neg)", path=path)
    if labels is None:
        raise InputError(f"a text file of one {what} per line needs a labels file, one label "
                         "per line (--labels FILE); or give a folder holding rt-polarity.pos "
                         "and rt-polarity.neg", path=path)
    texts = read_lines(path, what, encoding=encoding)
    classes = read_labels(labels, encoding=encoding)
    if len(texts) != len(classes):
        counts = (f"{path} has {len(texts)} {what}s but {labels} has {len(classes)} labels; "
                  f"give one label per {what}")
        if len(texts) > len(classes):
            raise InputError(f"no label for this {what}: {counts}", path=path,
                             line=len(classes) + 1)
        raise InputError(f"no {what} for this label: {counts}", path=labels,
                         line=len(texts) + 1)
    return texts, classes
