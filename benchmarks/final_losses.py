"""Final training losses and parameter digests of the seed recipes, bit for bit.

``python benchmarks/final_losses.py [--json FILE] [--compare FILE]``

For refactors that must not change what the library computes: each recipe's
last-epoch loss as ``float.hex`` and a SHA-256 of its trained parameters.
Run it before a change with ``--json before.json`` and after it with
``--compare before.json``: every line must say ``same``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import warnings

import numpy as np


def digest(model) -> str:
    import equinox as eqx
    import jax

    h = hashlib.sha256()
    for leaf in jax.tree.leaves(eqx.filter(model, eqx.is_array)):
        h.update(np.asarray(leaf).tobytes())
    return h.hexdigest()[:16]


def recipes():
    """``(name, thunk -> (final loss, trained network))`` of each recipe."""
    from hiddenstate import RecursiveAutoencoder, SequenceAutoencoder
    from hiddenstate.datasets import (
        REBER_ALPHABET,
        load_digits,
        make_donut,
        make_reber,
        make_sincos,
        reber_targets,
    )
    from hiddenstate.experiments import digits, donut, reber, recurrent_ae, scan_exercise

    def est(e, *args, **kw):
        e.fit(*args, **kw)
        return e.loss_curve_[-1], e.model_

    def w5(recipe):
        r = recurrent_ae.fit_recipe(seed=recurrent_ae.Config().random_state, **recipe)
        return r.history.loss[-1], r.model

    dc = donut.Config()
    X, _ = make_donut(dc.n_samples, rng=np.random.default_rng(dc.data_seed))
    rc = reber.Config()
    strings = make_reber(rc.n_train, np.random.default_rng(0))
    S, T = make_sincos()
    sc = scan_exercise.Config()
    wc = recurrent_ae.Config()
    rng = np.random.default_rng(0)
    seqs = [rng.normal(size=(rng.integers(3, 12), 3)).astype(np.float32) for _ in range(64)]
    sentences = [(("good fine great " if i % 2 else "bad awful poor ") * (i % 3 + 1)).split()
                 for i in range(80)]
    return [
        ("W1 seed", lambda: est(donut.seed_estimator(dc), X)),
        ("W1 ours", lambda: est(donut.ours_estimator(dc), X)),
        ("W2 digits seed", lambda: est(digits.seed_estimator(digits.Config()), load_digits()[0])),
        ("W3 seed", lambda: est(reber.seed_estimator(rc), strings,
                                [reber_targets(s) for s in strings], alphabet=REBER_ALPHABET)),
        ("W3 ours", lambda: est(reber.ours_estimator(rc), strings, alphabet=REBER_ALPHABET)),
        ("W5 seed", lambda: w5(recurrent_ae.seed_recipe(wc))),
        ("W5 ours", lambda: w5(recurrent_ae.ours_recipe(wc))),
        ("W6 seed", lambda: est(scan_exercise.seed_estimator(sc), list(S), list(T))),
        ("W6 ours", lambda: est(scan_exercise.ours_estimator(sc), list(S), list(T))),
        ("SequenceAutoencoder", lambda: est(SequenceAutoencoder(8, max_iter=5, random_state=0),
                                            seqs)),
        ("RecursiveAutoencoder", lambda: est(RecursiveAutoencoder(10, max_iter=3,
                                                                  random_state=0),
                                             sentences, [i % 2 for i in range(80)])),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--compare", help="compare with a file written by --json")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    before = json.load(open(args.compare)) if args.compare else {}
    out = {}
    for name, run in recipes():
        loss, model = run()
        out[name] = {"final_loss": float(loss), "hex": float(loss).hex(), "params": digest(model)}
        verdict = ""
        if name in before:
            same = (before[name]["hex"], before[name]["params"]) == (out[name]["hex"],
                                                                    out[name]["params"])
            verdict = "  same" if same else f"  DIFFERENT (before {before[name]['hex']})"
        print(f"{name:22} {float(loss):.10g} {out[name]['hex']:24} {out[name]['params']}{verdict}",
              flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(out, handle, indent=1)


if __name__ == "__main__":
    main()
