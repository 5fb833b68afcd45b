"""Initialisers: one formula drawn with a JAX key or on the host, pinned values."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hiddenstate.nn import (
    ElmanCell,
    glorot_uniform,
    host_rng,
    normal,
    orthogonal,
    seed_normal,
    uniform_spectral,
)

from .conftest import count_compiles

INITIALISERS = [glorot_uniform, normal, seed_normal, uniform_spectral, orthogonal]


def _keys():
    """The same seed as a JAX key and as a host generator."""
    return [jax.random.key(0), host_rng(jax.random.key(0))]


def test_draws_are_pinned():
    # Same key, same initial weights: a refactoring that changes these changes every result.
    np.testing.assert_allclose(
        np.asarray(glorot_uniform(jax.random.key(0), (2, 3))),
        [[0.9807893, 1.048516, -0.36743096], [-0.068643965, 0.1531185, -0.7328462]],
        rtol=1e-6)
    np.testing.assert_allclose(
        glorot_uniform(host_rng(jax.random.key(0)), (2, 3)),
        [[0.30006802, -0.50437206, -1.0056766], [-1.0592349, 0.6863407, 0.9043022]],
        rtol=1e-6)
    np.testing.assert_allclose(
        np.asarray(ElmanCell(2, 3, key=jax.random.key(0)).W),
        [[0.9704276, -0.40238515, 0.4871282], [-0.82026255, -0.16875033, 0.32433522]],
        rtol=1e-6)


@pytest.mark.parametrize("init", INITIALISERS, ids=lambda f: f.__name__)
def test_each_initialiser_draws_with_a_jax_key_or_on_the_host(init):
    key, rng = _keys()
    on_device = init(key, (5, 3))
    on_host = init(rng, (5, 3))
    assert isinstance(on_device, jax.Array) and isinstance(on_host, np.ndarray)
    assert on_device.shape == on_host.shape == (5, 3)
    assert on_device.dtype == on_host.dtype == np.float32
    # a JAX key traces: the dense autoencoder is built inside one jax.jit
    np.testing.assert_allclose(np.asarray(jax.jit(lambda k: init(k, (5, 3)))(key)),
                               np.asarray(on_device), rtol=1e-6, atol=1e-7)
    # the same generator state draws the same numbers
    np.testing.assert_array_equal(init(host_rng(jax.random.key(0)), (5, 3)), on_host)


@pytest.mark.parametrize("key", _keys(), ids=["jax", "host"])
def test_distributions(key):
    # Shapes shared with the test above and with each other: each new shape compiles.
    w = np.asarray(glorot_uniform(key, (200, 200), gain=4.0))
    bound = 4.0 * np.sqrt(6.0 / 400)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(np.std(normal(key, (200, 200), std=0.3)) - 0.3) < 0.01
    assert abs(np.std(seed_normal(key, (200, 200))) - 1 / np.sqrt(400)) < 0.002
    s = np.asarray(uniform_spectral(key, (5, 3)), np.float64)
    np.testing.assert_allclose(np.linalg.norm(s, 2), 1.0, rtol=1e-5)
    for shape in ((5, 3), (3, 5)):
        q = np.asarray(orthogonal(key, shape), np.float64)
        small = q.T @ q if shape[0] >= shape[1] else q @ q.T
        np.testing.assert_allclose(small, np.eye(3), atol=1e-5)


def test_dtype_and_empty_shapes():
    key, rng = _keys()
    assert glorot_uniform(rng, (0, 4)).shape == (0, 4)  # the input-free decoder cell
    assert uniform_spectral(rng, (0, 4)).shape == (0, 4)
    with jax.enable_x64(True):
        assert glorot_uniform(key, (2, 2), jnp.float64).dtype == jnp.float64
    assert glorot_uniform(rng, (2, 2), np.float64).dtype == np.float64


def test_host_rng_passes_a_generator_through_and_refuses_a_traced_key():
    rng = np.random.default_rng(0)
    assert host_rng(rng) is rng
    with pytest.raises(TypeError, match="outside jax.jit"):
        jax.jit(lambda k: jnp.asarray(glorot_uniform(host_rng(k), (2, 2))))(jax.random.key(0))


_ODD_SHAPES = [(5, 77), (77, 5), (13,), (3, 7, 11), (0, 4), (61, 67)]


def test_seed_normal_slices_one_flat_draw_bit_for_bit():
    # With a concrete key, seed_normal divides one flat draw of a power-of-two size (at
    # least 4096 numbers) and keeps its head: under jax_threefry_partitionable number i
    # comes from counter i whatever the shape, so the bits are those of the shape's own
    # draw and division, from two compiled programs instead of two per shape.
    from hiddenstate.nn import _init

    keys = list(jax.random.split(jax.random.key(7), len(_ODD_SHAPES))) + [jax.random.PRNGKey(3)]
    assert jax.config.jax_threefry_partitionable and _init._shared_draw(keys[0])
    for i, key in enumerate(keys):
        shape = _ODD_SHAPES[i % len(_ODD_SHAPES)]
        want = np.asarray(jax.random.normal(key, shape) / math.sqrt(sum(shape)))
        got = seed_normal(key, shape)
        assert isinstance(got, jax.Array) and got.dtype == jnp.float32 and got.shape == shape
        np.testing.assert_array_equal(np.asarray(got).view(np.uint32), want.view(np.uint32))
    with count_compiles() as n:  # (a new shape of up to 4096 numbers: no new program)
        seed_normal(keys[0], (29, 31))
    assert n() == 0


def test_seed_normal_draws_its_shape_where_a_slice_would_differ():
    from hiddenstate.nn import _init

    key = jax.random.key(1)
    with jax.threefry_partitionable(False):  # number i then depends on the draw's size
        assert not _init._shared_draw(key)
        want = jax.random.normal(key, (6, 5)) / math.sqrt(11)
        np.testing.assert_array_equal(np.asarray(seed_normal(key, (6, 5))), np.asarray(want))
    traced = jax.jit(lambda k: seed_normal(k, (6, 5)))(key)  # a tracer: drawn in the trace
    np.testing.assert_allclose(np.asarray(traced), np.asarray(seed_normal(key, (6, 5))),
                               rtol=1e-6)
    assert not _init._shared_draw(host_rng(key))
    assert not _init._shared_draw(key, jnp.bfloat16)  # float32 only
    np.testing.assert_array_equal(
        np.asarray(seed_normal(key, (6, 5), jnp.bfloat16)),
        np.asarray((jax.random.normal(key, (6, 5), jnp.bfloat16) / math.sqrt(11))
                   .astype(jnp.bfloat16)))
