"""Pure Equinox modules: one example in, one out; no training, no numpy RNG."""

from ._activations import ACTIVATIONS, activation
from ._autoencoder import AutoencoderNet
from ._cells import CELLS, ElmanCell, GRUCell, LSTMCell, LSTMState, make_cell
from ._init import get_initializer, glorot_uniform, normal, uniform_spectral, zeros
from ._recurrent_ae import (
    RecurrentAutoencoderNet,
    SequenceAutoencoderNet,
    recall_per_position,
)
from ._recursive import RecursiveAutoencoderNet, Tree
from ._sequence import SequenceNet

__all__ = [
    "ACTIVATIONS",
    "activation",
    "AutoencoderNet",
    "CELLS",
    "ElmanCell",
    "GRUCell",
    "LSTMCell",
    "make_cell",
    "SequenceNet",
    "RecurrentAutoencoderNet",
    "RecursiveAutoencoderNet",
    "Tree",
    "recall_per_position",
    "SequenceAutoencoderNet",
    "LSTMState",
    "get_initializer",
    "glorot_uniform",
    "normal",
    "uniform_spectral",
    "zeros",
]
