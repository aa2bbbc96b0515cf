"""Counting a graph's floating-point operations, and the machine's matmul rate.

`bin/benchmark --what=train` reports the matcher's speed beside what the
machine can do: FLOPs per example counted from the traced graph (TensorFlow's
profiler for the ops it has statistics for, and this module for ``Einsum``,
which it has none for), and the fp32 matmul rate measured in the same run.
"""

from __future__ import annotations

import time

import numpy as np


def einsum_flops(equation: str, shapes) -> int:
    """2 x the product of the sizes of every index of an einsum (multiply-adds).

    ``shapes``: the static input shapes. ``...`` stands for the leading axes
    of each input, broadcast against each other.
    """
    inputs = equation.replace(" ", "").split("->")[0].split(",")
    sizes = {}
    ellipsis = []
    for spec, shape in zip(inputs, shapes):
        shape = list(shape)
        if "..." in spec:
            head, tail = spec.split("...")
            n_ell = len(shape) - len(head) - len(tail)
            ellipsis.append(shape[len(head) : len(head) + n_ell])
            shape = shape[: len(head)] + shape[len(head) + n_ell :]
            spec = head + tail
        for letter, size in zip(spec, shape):
            sizes[letter] = max(sizes.get(letter, 1), int(size))
    total = 2
    for size in sizes.values():
        total *= size
    if ellipsis:
        width = max(len(e) for e in ellipsis)
        padded = [[1] * (width - len(e)) + list(e) for e in ellipsis]
        for dims in zip(*padded):
            total *= max(int(d) for d in dims)
    return total


def graph_flops(graph) -> int:
    """FLOPs of one run of a TF graph whose shapes are all static."""
    from tensorflow.python.profiler import model_analyzer, option_builder

    options = (
        option_builder.ProfileOptionBuilder(option_builder.ProfileOptionBuilder.float_operation())
        .with_empty_output()
        .build()
    )
    total = int(model_analyzer.profile(graph, options=options).total_float_ops)
    for op in graph.get_operations():
        if op.type != "Einsum":
            continue
        shapes = [tuple(t.shape.as_list()) for t in op.inputs]
        if any(d is None for s in shapes for d in s):
            raise ValueError(
                f"einsum {op.name} has a dynamic shape {shapes}; count a graph "
                "traced with static shapes"
            )
        total += einsum_flops(op.get_attr("equation").decode(), shapes)
    return total


def matmul_gflops(size: int = 1024, seconds: float = 1.0) -> float:
    """This machine's float32 matmul rate (GFLOP/s) through TensorFlow."""
    import tensorflow as tf

    a = tf.constant(np.random.default_rng(0).standard_normal((size, size), dtype=np.float32))
    step = tf.function(lambda x: tf.reduce_sum(tf.matmul(x, x)))
    float(step(a))
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        float(step(a))
        count += 1
    return 2.0 * size**3 * count / (time.perf_counter() - start) / 1e9
