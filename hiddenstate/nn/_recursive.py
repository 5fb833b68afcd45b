"""Socher et al. (2011) semi-supervised recursive autoencoder over greedy binary trees.

Trees are padded node arrays: a sentence of ``n`` words, padded to ``L``, has
``L`` leaf slots and ``L - 1`` merge slots, of which the first ``n - 1`` are
real. Node ``i < L`` is word ``i``; node ``L + t`` is the parent made by merge
``t``. Everything is static-shaped, so ``jax.vmap`` batches sentences and one
compilation serves every sentence of a padded length.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ._init import glorot_uniform, normal

__all__ = ["RecursiveAutoencoderNet", "Tree"]


class Tree(NamedTuple):
    """A greedy tree as padded arrays (one sentence; ``jax.vmap`` adds a batch).

    Attributes
    ----------
    children : (L-1, 2) int    node ids of the left and right child of merge ``t``
    sizes : (2L-1,) float      words below every node (leaves 1)
    merge_mask : (L-1,) bool   real merges (``t < n - 1``)
    node_mask : (2L-1,) bool   real nodes (``n`` leaves and ``n - 1`` parents)
    root : () int              id of the top node
    """

    children: Int[Array, "M 2"]
    sizes: Float[Array, " N"]
    merge_mask: Array
    node_mask: Array
    root: Array


class RecursiveAutoencoderNet(eqx.Module):
    r"""Recursive autoencoder with a softmax on every node (Socher et al. 2011, EMNLP).

    Composition of two children :math:`c_1, c_2` (word vectors or parents):

    .. math::
        p = \frac{\tanh([c_1; c_2] W_1 + b_1)}{\lVert\tanh([c_1; c_2] W_1 + b_1)\rVert},
        \qquad [c_1'; c_2'] = p W_2 + b_2

    reconstruction error weighted by the subtree sizes :math:`n_1, n_2`
    (eq. 6 of the paper):

    .. math::
        E_{rec} = \frac{n_1}{n_1+n_2}\lVert c_1 - c_1'\rVert^2
                + \frac{n_2}{n_1+n_2}\lVert c_2 - c_2'\rVert^2

    and a label distribution on every node, :math:`d = \mathrm{softmax}(p W_c + b_c)`.
    The tree is built greedily: repeatedly merge the adjacent pair whose
    parent reconstructs it best.

    Attributes
    ----------
    embedding : (V, d)   word vectors (row 0 is the unknown word)
    W1 : (2d, d), b1 : (d,)
    W2 : (d, 2d), b2 : (2d,)
    Wc : (d, K), bc : (K,)
    """

    embedding: Float[Array, "V d"]
    W1: Float[Array, "2d d"]
    b1: Float[Array, " d"]
    W2: Float[Array, "d 2d"]
    b2: Float[Array, " 2d"]
    Wc: Float[Array, "d K"]
    bc: Float[Array, " K"]

    def __init__(
        self,
        vocab_size: int,
        n_components: int,
        n_classes: int,
        *,
        key: PRNGKeyArray,
        word_scale: float = 0.1,
        dtype=jnp.float32,
    ) -> None:
        """Word vectors N(0, ``word_scale``**2) (random, as the paper's 76.8% row);
        matrices Glorot-uniform; biases zero."""
        V, d, K = int(vocab_size), int(n_components), int(n_classes)
        if V < 1 or d < 1 or K < 2:
            raise ValueError(
                f"need vocab_size >= 1, n_components >= 1, n_classes >= 2; got {V}, {d}, {K}"
            )
        k = jax.random.split(key, 4)
        self.embedding = normal(k[0], (V, d), dtype, std=word_scale)
        self.W1 = glorot_uniform(k[1], (2 * d, d), dtype)
        self.b1 = jnp.zeros((d,), dtype)
        self.W2 = glorot_uniform(k[2], (d, 2 * d), dtype)
        self.b2 = jnp.zeros((2 * d,), dtype)
        self.Wc = glorot_uniform(k[3], (d, K), dtype)
        self.bc = jnp.zeros((K,), dtype)

    @property
    def n_components(self) -> int:
        return self.embedding.shape[1]

    def compose(self, c1: Float[Array, " d"], c2: Float[Array, " d"]) -> Float[Array, " d"]:
        """The normalised parent of two children."""
        z = jnp.tanh(jnp.concatenate([c1, c2]) @ self.W1 + self.b1)
        return z / jnp.sqrt(jnp.sum(z * z) + 1e-12)

    def reconstruction_error(self, p, c1, c2, n1, n2) -> Array:
        """Size-weighted squared error of reconstructing ``c1, c2`` from ``p``."""
        r = p @ self.W2 + self.b2
        d = c1.shape[0]
        e1 = jnp.sum((c1 - r[:d]) ** 2)
        e2 = jnp.sum((c2 - r[d:]) ** 2)
        return (n1 * e1 + n2 * e2) / (n1 + n2)

    def _candidate(self, c1, c2, n1, n2):
        p = self.compose(c1, c2)
        return p, self.reconstruction_error(p, c1, c2, n1, n2)

    def greedy_tree(self, words: Int[Array, " L"], length: Int[Array, ""]) -> Tree:
        """Greedy tree of one padded sentence (no gradient flows through the choice).

        Keeps the frontier of current subtrees and the candidate parent of
        every adjacent pair; a merge recomputes only the two candidates that
        touch the new parent, so a sentence costs ``2(n-1)`` compositions
        after the first ``L-1``.
        """
        model = jax.lax.stop_gradient(self)
        L = words.shape[0]
        vecs = model.embedding[words]
        F = vecs
        ids = jnp.arange(L)
        S = jnp.ones((L,), vecs.dtype)
        P, E = jax.vmap(model._candidate)(F[:-1], F[1:], S[:-1], S[1:])
        node_idx = jnp.arange(L)
        cand_idx = jnp.arange(L - 1)

        def step(carry, t):
            F, ids, S, P, E = carry
            on = t < length - 1
            valid = cand_idx < length - 1 - t
            k = jnp.argmin(jnp.where(valid, E, jnp.inf))
            p, size = P[k], S[k] + S[k + 1]
            out = (ids[k], ids[k + 1], size)
            src = jnp.where(node_idx < k, node_idx, jnp.minimum(node_idx + 1, L - 1))
            F2 = F[src].at[k].set(p)
            ids2 = ids[src].at[k].set(L + t)
            S2 = S[src].at[k].set(size)
            csrc = jnp.where(cand_idx < k, cand_idx, jnp.minimum(cand_idx + 1, L - 2))
            P2, E2 = P[csrc], E[csrc]
            a = jnp.maximum(k - 1, 0)
            pa, ea = model._candidate(F2[a], F2[a + 1], S2[a], S2[a + 1])
            P2, E2 = P2.at[a].set(pa), E2.at[a].set(ea)
            b = jnp.minimum(k, L - 2)
            pb, eb = model._candidate(F2[b], F2[b + 1], S2[b], S2[b + 1])
            P2, E2 = P2.at[b].set(pb), E2.at[b].set(eb)
            new = (F2, ids2, S2, P2, E2)
            carry = jax.tree.map(lambda x, y: jnp.where(on, x, y), new, carry)
            return carry, out

        if L == 1:
            children = jnp.zeros((0, 2), jnp.int32)
            parent_sizes = jnp.zeros((0,), vecs.dtype)
        else:
            _, (left, right, parent_sizes) = jax.lax.scan(
                step, (F, ids, S, P, E), jnp.arange(L - 1)
            )
            children = jnp.stack([left, right], axis=1).astype(jnp.int32)
        merge_mask = jnp.arange(L - 1) < length - 1
        children = jnp.where(merge_mask[:, None], children, 0)
        node_mask = jnp.concatenate([jnp.arange(L) < length, merge_mask])
        sizes = jnp.concatenate(
            [jnp.ones((L,), vecs.dtype), jnp.where(merge_mask, parent_sizes, 1)]
        )
        root = jnp.where(length > 1, L + length - 2, 0)
        return Tree(children, sizes, merge_mask, node_mask, root)

    def node_vectors(self, words: Int[Array, " L"], tree: Tree) -> Float[Array, "N d"]:
        """Vectors of all ``2L-1`` nodes of a given tree (differentiable in the parameters)."""
        L = words.shape[0]
        vecs = self.embedding[words]
        table = jnp.concatenate([vecs, jnp.zeros((L - 1, vecs.shape[1]), vecs.dtype)])

        def step(table, xs):
            t, lr = xs
            p = self.compose(table[lr[0]], table[lr[1]])
            return table.at[L + t].set(p), None

        if L > 1:
            table, _ = jax.lax.scan(step, table, (jnp.arange(L - 1), tree.children))
        return table

    def tree_errors(self, table: Float[Array, "N d"], tree: Tree) -> Float[Array, " M"]:
        """Reconstruction error of every merge (0 for padding)."""
        L = (table.shape[0] + 1) // 2
        left, right = tree.children[:, 0], tree.children[:, 1]
        err = jax.vmap(self.reconstruction_error)(
            table[L:], table[left], table[right], tree.sizes[left], tree.sizes[right]
        )
        return jnp.where(tree.merge_mask, err, 0.0)

    def node_logits(self, table: Float[Array, "N d"]) -> Float[Array, "N K"]:
        """Label logits of every node."""
        return table @ self.Wc + self.bc

    def features(self, table: Float[Array, "N d"], tree: Tree) -> Float[Array, " 2d"]:
        """Sentence vector: the top node and the mean of all nodes (the paper's features)."""
        m = tree.node_mask.astype(table.dtype)
        mean = jnp.sum(table * m[:, None], axis=0) / jnp.sum(m)
        return jnp.concatenate([table[tree.root], mean])

    def __call__(self, words: Int[Array, " L"], length: Int[Array, ""]):
        """``(tree, node table)`` of one padded sentence."""
        tree = self.greedy_tree(words, length)
        return tree, self.node_vectors(words, tree)
