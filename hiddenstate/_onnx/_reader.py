"""The reference reader of an exported graph's JSON: raw inputs -> the graph's inputs.

NumPy, the standard library and hiddenstate's word splitter (which takes the JSON's
patterns; docs/onnx.md shows the same reader with nothing from hiddenstate, to copy next
to a service). ``meta`` is the JSON that :func:`hiddenstate.export_onnx` writes beside
the graph (``OUT.onnx.json``).
"""

from __future__ import annotations

import re

import numpy as np

__all__ = ["onnx_inputs", "tokens_of"]


def tokens_of(meta: dict, text: str) -> list[str]:
    """The tokens of one string, by the model's analyzer and tokenizer."""
    voc = meta["vocabulary"]
    text = text.lstrip("\ufeff")
    if voc["analyzer"] == "char":
        return list(text)
    if voc["tokenizer"] == "whitespace":
        return text.split()
    from ..estimators._tokens import split_words

    rule = voc["default_rule"]
    return split_words(text.lower(), re.compile(rule["chunk"]), re.compile(rule["lead"]),
                       re.compile(rule["trail"]), re.compile(rule["punct"], re.S))


def _ids(meta: dict, item) -> list[int]:
    if "alphabet" in meta:
        alphabet = meta["alphabet"]
        ids = [alphabet.index(c) for c in item]
        return [len(alphabet), *ids, len(alphabet)] if meta["markers"] else ids
    voc = meta["vocabulary"]
    index = {t: i + voc["first_id"] for i, t in enumerate(voc["tokens"])}
    tokens = tokens_of(meta, item) if isinstance(item, str) else list(item)
    ids = [index.get(t, voc["ids"]["<unk>"]) for t in tokens]
    return ids + [voc["ids"]["</s>"]] if "encoding" in meta else ids


def onnx_inputs(meta: dict, X) -> dict[str, np.ndarray]:
    """The inputs to feed the graph for ``X``: a 2-D array (rows, or sequences of one value
    a step), a list of ``(T_i, d)`` arrays, or strings / token lists (padded, with
    ``lengths``)."""
    names = [i["name"] for i in meta["inputs"]]
    if "ids" in names:
        seqs = [_ids(meta, x) for x in X]
        L = max(len(s) for s in seqs)
        ids = np.zeros((len(seqs), L), np.int64)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = s
        return {"ids": ids, "lengths": np.array([len(s) for s in seqs], np.int64)}
    if "lengths" in names:
        seqs = [np.asarray(x, np.float32) for x in X]
        L, d = max(len(s) for s in seqs), seqs[0].shape[1]
        xs = np.zeros((len(seqs), L, d), np.float32)
        for i, s in enumerate(seqs):
            xs[i, : len(s)] = s
        return {"X": xs, "lengths": np.array([len(s) for s in seqs], np.int64)}
    return {names[0]: np.asarray(X, np.float32)}
