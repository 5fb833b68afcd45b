"""ONNX export of every model kind: agreement with the Python model on 1,000 inputs, export
time, and one batch of 1,000 inputs through onnxruntime against ``model.score`` on a warm
cache.

    python benchmarks/onnx_export.py [--quick]

Needs the [export] extra (onnx, onnxruntime). The relative difference of an output is
``max |onnx - python| / max |python|`` over all its values; ``same`` says whether the
class labels (or anomaly flags) are identical. Times are the median of 5 runs after a
warm-up call (so JAX's compilations are not counted). ``--quick``: fewer epochs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np


def _median_time(fn, repeats: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _rel(got, want) -> float:
    def flat(v):
        if isinstance(v, list):
            return np.concatenate([np.asarray(a, np.float64).reshape(len(a), -1) for a in v])
        return np.asarray(v, np.float64)

    got, want = flat(got), flat(want)
    return float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-30))


def _unpad(out, lengths):
    return [o[:n] for o, n in zip(out, lengths, strict=True)]


def cases(epochs: int):
    """``(name, fitted model, inputs, checks, score)``; ``checks(outputs)`` gives
    ``{output: (relative difference or None, identical or None)}``."""
    import hiddenstate as hs

    rng = np.random.default_rng(0)
    X = rng.random((1000, 20)).astype(np.float32)
    seqs = [rng.standard_normal((int(rng.integers(20, 60)), 3)).cumsum(0).astype(np.float32)
            for _ in range(1000)]
    lengths = [len(s) for s in seqs]
    y = (np.array([s[-1, 0] > s[0, 0] for s in seqs])).astype(int)
    new = [s + 0.2 * rng.standard_normal(s.shape).astype(np.float32) for s in seqs]

    ae = hs.Autoencoder(n_components=8, max_iter=epochs * 4, random_state=0).fit(X)
    yield ("Autoencoder", ae, X, lambda o: {
        "transform": (_rel(o["transform"], ae.transform(X)), None),
        "predict": (_rel(o["predict"], ae.predict(X)), None),
        "reconstruction_error": (_rel(o["reconstruction_error"], ae.reconstruction_error(X)),
                                 None)}, lambda: ae.score(X))
    for name, kw in (("SequenceClassifier lstm", {"cell": "lstm"}),
                     ("SequenceClassifier gru bi mean", {"cell": "gru", "bidirectional": True,
                                                         "pooling": "mean"}),
                     ("SequenceClassifier conv", {"encoder": "conv", "hidden_size": 16}),
                     ("SequenceClassifier conv+lstm", {"encoder": "conv+recurrent",
                                                       "hidden_size": 16})):
        kw = {"hidden_size": 32, **kw}
        clf = hs.SequenceClassifier(max_iter=epochs, random_state=0, **kw).fit(seqs, y)
        yield (name, clf, seqs, lambda o, clf=clf: {
            "predict_proba": (_rel(o["predict_proba"], clf.predict_proba(seqs)), None),
            "predict": (None, bool((o["predict"] == clf.predict(seqs)).all()))},
            lambda clf=clf: clf.score(seqs, y))
    reg = hs.SequenceRegressor(hidden_size=32, max_iter=epochs, random_state=0)
    reg.fit(seqs, np.array([s[-1, 0] for s in seqs]))
    yield ("SequenceRegressor", reg, seqs, lambda o: {
        "predict": (_rel(o["predict"], reg.predict(seqs)), None)},
        lambda: reg.score(seqs, np.array([s[-1, 0] for s in seqs])))
    sae = hs.SequenceAutoencoder(n_components=16, max_iter=epochs, random_state=0).fit(seqs)
    yield ("SequenceAutoencoder", sae, seqs, lambda o: {
        "transform": (_rel(o["transform"], sae.transform(seqs)), None),
        "reconstruction_error": (_rel(o["reconstruction_error"],
                                      sae.reconstruction_error(seqs)), None),
        "predict": (_rel(_unpad(o["predict"], lengths), sae.predict(seqs)), None)},
        lambda: sae.score(seqs))
    sm = hs.SequenceModel(hidden_size=32, output="linear", max_iter=epochs, random_state=0)
    sm.fit([s[:-1] for s in seqs], [s[1:] for s in seqs])
    yield ("SequenceModel series", sm, seqs, lambda o: {
        "predict_proba": (_rel(_unpad(o["predict_proba"], lengths), sm.predict_proba(seqs)),
                          None),
        "log_likelihood": (_rel(o["log_likelihood"], sm.score_samples(
            [s[:-1] for s in seqs], [s[1:] for s in seqs])), None)},
        lambda: sm.score([s[:-1] for s in seqs], [s[1:] for s in seqs]))
    from hiddenstate.datasets import make_reber

    strings = make_reber(1000, rng=np.random.default_rng(1))
    sym = hs.SequenceModel(hidden_size=32, max_iter=epochs, random_state=0).fit(strings)
    yield ("SequenceModel symbols", sym, strings, lambda o: {
        "log_likelihood": (_rel(o["log_likelihood"], sym.score_samples(strings)), None)},
        lambda: sym.score(strings))
    for base, train, test in (
            (hs.Autoencoder(n_components=8, max_iter=epochs * 4), X,
             rng.random((1000, 20)).astype(np.float32) * 1.2),
            (hs.SequenceModel(hidden_size=32, output="linear", max_iter=epochs), seqs, new)):
        det = hs.AnomalyDetector(base, random_state=0).fit(train)
        yield (f"AnomalyDetector {type(base).__name__}", det, test, lambda o, det=det, test=test: {
            "score_samples": (_rel(o["score_samples"], det.score_samples(test)), None),
            "pvalues": (_rel(o["pvalues"], det.pvalues(test)), None),
            "predict": (None, bool((o["predict"] == det.predict(test)).all()))},
            lambda det=det, test=test: det.score_samples(test))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import onnxruntime as ort

    import hiddenstate as hs
    from hiddenstate._onnx._reader import onnx_inputs

    print(f"{'model':34s} {'export s':>8s} {'onnx ms':>8s} {'1 thr':>8s} {'score ms':>8s}  "
          "outputs (relative difference; identical)")
    one = ort.SessionOptions()
    one.intra_op_num_threads = 1
    with tempfile.TemporaryDirectory() as tmp:
        for name, model, X, check, score in cases(2 if args.quick else 5):
            path = Path(tmp) / "model.onnx"
            start = time.perf_counter()
            meta = hs.export_onnx(model, path)
            export_s = time.perf_counter() - start
            sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            feeds = onnx_inputs(meta, X)
            names = [o.name for o in sess.get_outputs()]
            outputs = dict(zip(names, sess.run(None, feeds), strict=True))
            onnx_s = _median_time(lambda sess=sess, feeds=feeds: sess.run(None, feeds))
            single = ort.InferenceSession(str(path), one, providers=["CPUExecutionProvider"])
            one_s = _median_time(lambda sess=single, feeds=feeds: sess.run(None, feeds))
            score_s = _median_time(score)
            parts = [f"{k} {d:.1e}" if d is not None else f"{k} {'same' if s else 'DIFFER'}"
                     for k, (d, s) in check(outputs).items()]
            print(f"{name:34s} {export_s:8.2f} {1e3 * onnx_s:8.1f} {1e3 * one_s:8.1f} "
                  f"{1e3 * score_s:8.1f}  "
                  + "; ".join(parts), flush=True)


if __name__ == "__main__":
    main()
