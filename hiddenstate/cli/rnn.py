"""``hiddenstate rnn``: Elman/LSTM/GRU sequence models on symbol strings."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ._common import add_estimator_options, estimator_kwargs, load_model

__all__ = ["register"]

# Strings in the built-in reber / embedded-reber data (fit, and evaluate's fresh strings). The
# seed's recipe (WORKLOADS.md W3, W4) trains on 1000; on 1000 Reber strings the default
# SequenceModel (softmax next symbol, 8 epochs) learns those strings more than the grammar and
# samples about 0.989 of its strings in the grammar (random states 0-9); 24 epochs reach only
# about 0.997 (the training loss falls below the grammar's entropy); 5000 give about 0.999.
BUILTIN_STRINGS = 5000


def register(sub) -> None:
    sub.add_parser("rnn", help="Elman/LSTM/GRU sequence models on symbol strings", build=_build)


def _build(parser) -> None:
    actions = parser.add_subparsers(dest="command", metavar="ACTION", required=True)
    actions.add_parser("fit", help="train on DATA (one sequence per line), write MODEL",
                       build=_build_fit)
    sample_parser = actions.add_parser("sample", help="generate strings, one per line")
    sample_parser.add_argument("model", metavar="MODEL")
    sample_parser.add_argument("-n", type=int, default=20)
    sample_parser.add_argument("--temperature", type=float, default=1.0)
    sample_parser.add_argument("--seed", type=int, default=None)
    sample_parser.add_argument("--start", default="B")
    sample_parser.add_argument("--stop", default="E")
    sample_parser.add_argument("--n-stops", type=int, default=1)
    sample_parser.add_argument("--max-length", type=int, default=100)
    sample_parser.set_defaults(func=sample)
    eval_parser = actions.add_parser("evaluate", help="score, next-symbol and grammar figures")
    eval_parser.add_argument("model", metavar="MODEL")
    eval_parser.add_argument("data", metavar="DATA")
    eval_parser.add_argument("--data-seed", type=int, default=1)
    eval_parser.add_argument("--json", action="store_true")
    eval_parser.set_defaults(func=evaluate)


def _build_fit(fit_parser) -> None:
    from ..estimators import SequenceModel

    fit_parser.add_argument(
        "data", metavar="DATA",
        help=f"text file (one sequence per line), or built-in: reber or embedded-reber, "
             f"{BUILTIN_STRINGS} strings each of more than 10 symbols (the seed's recipe, "
             f"WORKLOADS.md W3/W4, trains on 1000: too few for the default model to sample "
             f">= 99.5%% of its strings in the grammar)")
    fit_parser.add_argument("--out", required=True, metavar="MODEL")
    fit_parser.add_argument("--alphabet", help="the symbols (default: those in DATA)")
    fit_parser.add_argument("--data-seed", type=int, default=0, help="seed of built-in data")
    add_estimator_options(fit_parser, SequenceModel)
    fit_parser.set_defaults(func=fit)


def _data(spec: str, alphabet: str | None, seed: int):
    import numpy as np

    from .. import datasets

    rng = np.random.default_rng(seed)
    if spec == "reber" and not Path(spec).exists():
        return datasets.make_reber(BUILTIN_STRINGS, rng), datasets.REBER_ALPHABET
    if spec == "embedded-reber" and not Path(spec).exists():
        return datasets.make_embedded_reber(BUILTIN_STRINGS, rng), datasets.REBER_ALPHABET
    return datasets.load_sequences(spec, alphabet)


def _load(path):
    from ..estimators import SequenceModel

    return load_model(path, SequenceModel)


def fit(args) -> int:
    from ..estimators import SequenceModel

    seqs, alphabet = _data(args.data, args.alphabet, args.data_seed)
    est = SequenceModel(**estimator_kwargs(args, SequenceModel))
    t0 = time.perf_counter()
    est.fit(seqs, alphabet=alphabet)
    est.save(args.out)
    print(f"trained {est.n_iter_} epochs on {len(seqs)} sequences in "
          f"{time.perf_counter() - t0:.2f} s; final loss {est.loss_curve_[-1]:.5g}; "
          f"wrote {args.out}", file=sys.stderr)
    return 0


def sample(args) -> int:
    model = _load(args.model)
    for s in model.sample(args.n, start=args.start, stop=args.stop, n_stops=args.n_stops,
                          max_length=args.max_length, temperature=args.temperature,
                          random_state=args.seed):
        print(s)
    return 0


def evaluate(args) -> int:
    model = _load(args.model)
    seqs, _ = _data(args.data, model.alphabet_, args.data_seed)
    result = _figures(model, seqs, args.data)
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}")
    return 0


def _figures(model, seqs, spec: str) -> dict:
    """Score and next-symbol accuracy; grammar figures when the alphabet is Reber's."""
    import numpy as np

    from .. import datasets
    from ..metrics import grammar_fraction, legal_next_accuracy, long_range_accuracy

    result = {"sequences": len(seqs), "score": model.score(seqs)}
    probs = model.predict_proba(seqs)
    nxt = [np.eye(len(model.alphabet_))[[model.alphabet_.index(c) for c in s[1:]]] for s in seqs]
    result["next_symbol_accuracy"] = legal_next_accuracy(probs, nxt)
    if set(model.alphabet_) == set(datasets.REBER_ALPHABET):
        embedded = spec == "embedded-reber" or datasets.in_embedded_reber_grammar(seqs[0])
        check = datasets.in_embedded_reber_grammar if embedded else datasets.in_reber_grammar
        samples = model.sample(1000, n_stops=2 if embedded else 1, random_state=0)
        result["sampled_in_grammar"] = grammar_fraction(samples, check)
        if embedded:
            result["long_range_accuracy"] = long_range_accuracy(probs, seqs, model.alphabet_)
    return result
