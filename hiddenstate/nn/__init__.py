"""Pure Equinox modules: one example in, one out; no training, no numpy RNG."""

from .._compilation_cache import enable as _enable_compilation_cache
from ._activations import ACTIVATIONS, activation
from ._autoencoder import AutoencoderNet
from ._cells import (
    CELL_INITS,
    CELLS,
    ElmanCell,
    GRUCell,
    LSTMCell,
    LSTMState,
    RecurrentCell,
    cell_init,
    make_cell,
    register_cell,
)
from ._init import glorot_uniform, host_rng, normal, orthogonal, seed_normal, uniform_spectral
from ._recurrent_ae import (
    RecurrentAutoencoderNet,
    SequenceAutoencoderNet,
    recall_per_position,
)
from ._recursive import RecursiveAutoencoderNet, Tree
from ._sequence import SequenceNet

_enable_compilation_cache()  # before anything compiles (see hiddenstate._compilation_cache)

__all__ = [
    "ACTIVATIONS",
    "activation",
    "AutoencoderNet",
    "CELLS",
    "CELL_INITS",
    "RecurrentCell",
    "register_cell",
    "make_cell",
    "cell_init",
    "ElmanCell",
    "GRUCell",
    "LSTMCell",
    "SequenceNet",
    "RecurrentAutoencoderNet",
    "RecursiveAutoencoderNet",
    "Tree",
    "recall_per_position",
    "SequenceAutoencoderNet",
    "LSTMState",
    "glorot_uniform",
    "normal",
    "seed_normal",
    "uniform_spectral",
    "orthogonal",
    "host_rng",
]
