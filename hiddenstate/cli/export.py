"""``hiddenstate export MODEL OUT.onnx``: a saved model as an ONNX graph (run by
onnxruntime, without Python or JAX), with its vocabulary, alphabet or class labels in
``OUT.onnx.json`` beside it."""

from __future__ import annotations

__all__ = ["register"]


def register(sub) -> None:
    sub.add_parser("export", help="write a saved model as an ONNX graph (needs the [export] "
                   "extra: onnx)", build=_build)


def _build(parser) -> None:
    parser.add_argument("model", metavar="MODEL", help="a model file written by fit or save")
    parser.add_argument("out", metavar="OUT.onnx", help="the graph to write; its metadata "
                        "(inputs, outputs, vocabulary, labels) goes to OUT.onnx.json")
    parser.add_argument("--method", choices=("inverse_transform", "forecast"), default=None,
                        help="the graph of this method instead: inverse_transform (an "
                             "Autoencoder: codes in, reconstructions out) or forecast (a "
                             "next-step SequenceModel of real values: each prediction fed "
                             "back as the next input, for a given number of steps)")
    parser.set_defaults(func=export)


def export(args) -> int:
    import time

    from .._onnx import export_onnx
    from .._serialize import load

    model = load(args.model)
    start = time.perf_counter()
    meta = export_onnx(model, args.out, method=args.method)
    seconds = time.perf_counter() - start

    def names(items):
        return ", ".join(f"{i['name']} {i['type']} {i['shape']}" for i in items)

    print(f"wrote {args.out} ({meta['class']}, {seconds:.2f} s) and {args.out}.json")
    print(f"inputs:  {names(meta['inputs'])}")
    print(f"outputs: {names(meta['outputs'])}")
    return 0
