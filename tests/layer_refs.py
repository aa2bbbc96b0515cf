"""Numpy references and checks shared by the layer tests (tests/model, tests/baselines).

Each reference is written from the paper's equations (§5, eq. 1-16) with
plain loops/concatenations, independently of the Keras code; the test
modules (one per module of srs_tf/model) compare the layers with them on
random inputs that include padded words and padded turns.

Imported by plain name (``from layer_refs import ...``): tests/conftest.py
puts tests/ on sys.path.
"""

import keras
import numpy as np

ATOL = 2e-5


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_softmax(logits, mask):
    """Softmax over the last axis restricted to mask; all-masked rows -> 0."""
    out = np.zeros_like(logits, dtype=np.float64)
    flat_logits = logits.reshape(-1, logits.shape[-1])
    flat_mask = np.broadcast_to(mask, logits.shape).reshape(-1, logits.shape[-1])
    flat_out = out.reshape(-1, logits.shape[-1])
    for row, (values, keep) in enumerate(zip(flat_logits, flat_mask)):
        if keep.any():
            e = np.exp(values[keep] - values[keep].max())
            flat_out[row, keep] = e / e.sum()
    return flat_out.reshape(logits.shape)


def np_dense(x, layer, activation=None):
    y = x @ layer.kernel.numpy()
    if layer.use_bias:
        y = y + layer.bias.numpy()
    if activation == "relu":
        y = np.maximum(y, 0.0)
    return y


def np_layer_norm(x, layer):
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + layer.epsilon) * layer.gamma.numpy() + layer.beta.numpy()


def np_attentive(x, mask, layer):
    """Eq. 3-6 for one sequence x [N, D] (mask [N]) with the layer's weights."""
    q = np_dense(x, layer.query_dense)
    k = np_dense(x, layer.key_dense)
    v = np_dense(x, layer.value_dense)
    out = np.zeros((x.shape[0], layer.hidden_dim))
    for j in range(x.shape[0]):
        if not mask[j]:
            continue  # padded query: output 0
        logits = np.array([q[j] @ k[n] for n in range(x.shape[0])])  # eq. 3 numerator
        alpha = np_softmax(logits, mask)
        beta = sum(alpha[n] * v[n] for n in range(x.shape[0]))  # eq. 4
        h_hat = x[j] + beta  # eq. 5 (dropout off)
        inner = np_dense(h_hat, layer.ffn_inner, "relu")
        out[j] = np_layer_norm(np_dense(inner, layer.ffn_outer), layer.layer_norm)  # eq. 6
    return out


def randomize_weights(layer, seed=0, scale=0.5):
    """Non-trivial weights (biases and LayerNorm params included)."""
    rng = np.random.default_rng(seed)
    for var in layer.weights:
        var.assign(rng.normal(0.0, scale, var.shape).astype(var.dtype))


def assert_round_trip(layer, *args):
    """``get_config`` -> ``from_config`` rebuilds an equivalent layer.

    The clone has the same config and, once the weights are copied
    (``set_weights(get_weights())``), the same outputs on the same inputs.
    The config also survives Keras' registered serialisation (the
    ``srs_tf>...`` names that saved models refer to).
    """
    outputs = layer(*args)
    clone = layer.__class__.from_config(layer.get_config())
    clone(*args)
    clone.set_weights(layer.get_weights())
    expected, actual = keras.tree.flatten(outputs), keras.tree.flatten(clone(*args))
    assert len(actual) == len(expected)
    for a, b in zip(expected, actual):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)
    assert clone.get_config() == layer.get_config()
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"] == f"srs_tf>{layer.__class__.__name__}"
    restored = keras.saving.deserialize_keras_object(serialized)
    assert type(restored) is type(layer)
    assert restored.get_config() == layer.get_config()
    return clone
