"""FLOP counting for `bin/benchmark --what=train` against hand-computed cases."""

import pytest


def test_einsum_flops_hand_computed():
    from srs_tf.training.flops import einsum_flops

    # [2, 3] x [3, 4] -> 2 * 2*3*4 multiply-adds
    assert einsum_flops("ij,jk->ik", [(2, 3), (3, 4)]) == 48
    # batched with an ellipsis: 5 x ([6, 7] x [7, 8])
    assert einsum_flops("...jd,...kd->...jk", [(5, 6, 7), (5, 8, 7)]) == 2 * 5 * 6 * 7 * 8
    # a reduction to a vector
    assert einsum_flops("bckd,d->bck", [(2, 3, 4, 5), (5,)]) == 2 * 2 * 3 * 4 * 5


def test_graph_flops_counts_matmul_and_einsum():
    import tensorflow as tf

    from srs_tf.training.flops import graph_flops

    def fn(a, b):
        return tf.einsum("bij,bjk->bik", tf.matmul(a, b)[None], b[None])

    graph = (
        tf.function(fn)
        .get_concrete_function(tf.TensorSpec([4, 6], tf.float32), tf.TensorSpec([6, 6], tf.float32))
        .graph
    )
    assert graph_flops(graph) == 2 * 4 * 6 * 6 + 2 * 1 * 4 * 6 * 6


def test_graph_flops_refuses_dynamic_einsum_shapes():
    import tensorflow as tf

    from srs_tf.training.flops import graph_flops

    graph = (
        tf.function(lambda a: tf.einsum("ij,jk->ik", a, a))
        .get_concrete_function(tf.TensorSpec([None, None], tf.float32))
        .graph
    )
    with pytest.raises(ValueError, match="dynamic shape"):
        graph_flops(graph)
