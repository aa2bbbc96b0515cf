"""Pretrained weights for the Keras InceptionV3 sticker encoder
(docs/DESIGN.md#pretrained-weights, docs/INCEPTION_WEIGHTS.md).

``load_inception_weights(backbone, source)`` fills a
``keras.applications.InceptionV3(include_top=False, weights=None, ...)``
model from one of four sources, detected automatically:

``keras-h5``
    a Keras weights file: Keras 3 ``*.weights.h5`` (``model.save_weights``),
    the legacy Keras 2 ``inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5``
    layout, or a ``.keras`` archive. Delegated to ``Model.load_weights``.
``imagenet``
    Keras' own ImageNet "notop" file, from the Keras cache (never
    downloaded), then as ``keras-h5``.
``tf-slim``
    the official TF-Slim ``inception_v3.ckpt`` (``InceptionV3/Mixed_5b/...``):
    conv ``weights`` and ``BatchNorm/{beta,moving_mean,moving_variance}``.
``stickerchat-release``
    the StickerChat release checkpoint (``image_encoder/mixed_35x35x256a/...``):
    conv ``weights`` and ``biases``, no batch norm. Each bias becomes the
    beta of the batch-norm layer after the conv, with moving_mean = 0 and
    moving_variance = 1 - epsilon, so that in inference mode
    ``BN(x) = (x - 0) / sqrt(1 - eps + eps) + beta = x + bias`` exactly.

Keras layer names (``conv2d_17``...) depend on how many layers the process
created before, so they are never used. The Keras side of the mapping is the
*creation order* of the Conv2D layers, recovered from the graph: a post-order
depth-first walk from the model output that visits each layer's inputs in
call order. For InceptionV3 that order is exactly the order in which the
Keras source creates the convolutions, which is also the order of TF-Slim's
``Branch_0..3`` and of the release code's ``branch1x1/branch5x5/...`` scopes.
Each conv is assigned to its mixed block by the named ``mixed0``..``mixed10``
concatenations (names given explicitly by the Keras source), and the
per-block conv counts are checked. Shapes are checked for every tensor.
See ``docs/INCEPTION_WEIGHTS.md``.
"""

from __future__ import annotations

import glob
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

FORMAT_KERAS_H5 = "keras-h5"
FORMAT_IMAGENET = "imagenet"
FORMAT_SLIM = "tf-slim"
FORMAT_RELEASE = "stickerchat-release"

SLIM_ROOT = "InceptionV3"
RELEASE_ROOT = "image_encoder"

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


# --------------------------------------------------------------------------
# The canonical layout: blocks, branches and convolutions in creation order.
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Block:
    keras: str  # Keras concatenate name ("" for the stem)
    slim: str  # TF-Slim scope under InceptionV3/ ("" for the stem)
    release: str  # release scope under image_encoder/ ("" for the stem)
    # (slim branch, slim conv names, release branch); the release conv
    # names inside a branch are Conv, Conv_1, Conv_2, ...
    branches: tuple[tuple[str, tuple[str, ...], str], ...]


def _b(slim_branch, slim_convs, release_branch):
    return (slim_branch, tuple(slim_convs), release_branch)


_B35_POOL = _b("Branch_3", ["Conv2d_0b_1x1"], "branch_pool")


def _block35(keras, slim, release, branch1):
    return _Block(
        keras,
        slim,
        release,
        (
            _b("Branch_0", ["Conv2d_0a_1x1"], "branch1x1"),
            _b("Branch_1", branch1, "branch5x5"),
            _b("Branch_2", ["Conv2d_0a_1x1", "Conv2d_0b_3x3", "Conv2d_0c_3x3"], "branch3x3dbl"),
            _B35_POOL,
        ),
    )


def _block17(keras, slim, release):
    return _Block(
        keras,
        slim,
        release,
        (
            _b("Branch_0", ["Conv2d_0a_1x1"], "branch1x1"),
            _b("Branch_1", ["Conv2d_0a_1x1", "Conv2d_0b_1x7", "Conv2d_0c_7x1"], "branch7x7"),
            _b(
                "Branch_2",
                [
                    "Conv2d_0a_1x1",
                    "Conv2d_0b_7x1",
                    "Conv2d_0c_1x7",
                    "Conv2d_0d_7x1",
                    "Conv2d_0e_1x7",
                ],
                "branch7x7dbl",
            ),
            _b("Branch_3", ["Conv2d_0b_1x1"], "branch_pool"),
        ),
    )


def _block8(keras, slim, release, branch1):
    return _Block(
        keras,
        slim,
        release,
        (
            _b("Branch_0", ["Conv2d_0a_1x1"], "branch1x1"),
            _b("Branch_1", branch1, "branch3x3"),
            _b(
                "Branch_2",
                ["Conv2d_0a_1x1", "Conv2d_0b_3x3", "Conv2d_0c_1x3", "Conv2d_0d_3x1"],
                "branch3x3dbl",
            ),
            _b("Branch_3", ["Conv2d_0b_1x1"], "branch_pool"),
        ),
    )


# The stem: five convs that are not inside any scope block.
_STEM_SLIM = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3")
_STEM_RELEASE = ("conv0", "conv1", "conv2", "conv3", "conv4")

# The slim names keep the checkpoint's historical quirks (Mixed_5c's
# "Conv2d_0b_1x1"/"Conv_1_0c_5x5", Mixed_6a's 3x3 "Conv2d_1a_1x1", Mixed_7b's
# "Conv2d_0b_3x1" against Mixed_7c's "Conv2d_0c_3x1"): they are data.
BLOCKS: tuple[_Block, ...] = (
    _block35("mixed0", "Mixed_5b", "mixed_35x35x256a", ["Conv2d_0a_1x1", "Conv2d_0b_5x5"]),
    _block35("mixed1", "Mixed_5c", "mixed_35x35x288a", ["Conv2d_0b_1x1", "Conv_1_0c_5x5"]),
    _block35("mixed2", "Mixed_5d", "mixed_35x35x288b", ["Conv2d_0a_1x1", "Conv2d_0b_5x5"]),
    _Block(
        "mixed3",
        "Mixed_6a",
        "mixed_17x17x768a",
        (
            _b("Branch_0", ["Conv2d_1a_1x1"], "branch3x3"),
            _b("Branch_1", ["Conv2d_0a_1x1", "Conv2d_0b_3x3", "Conv2d_1a_1x1"], "branch3x3dbl"),
        ),
    ),
    _block17("mixed4", "Mixed_6b", "mixed_17x17x768b"),
    _block17("mixed5", "Mixed_6c", "mixed_17x17x768c"),
    _block17("mixed6", "Mixed_6d", "mixed_17x17x768d"),
    _block17("mixed7", "Mixed_6e", "mixed_17x17x768e"),
    _Block(
        "mixed8",
        "Mixed_7a",
        "mixed_17x17x1280a",
        (
            _b("Branch_0", ["Conv2d_0a_1x1", "Conv2d_1a_3x3"], "branch3x3"),
            _b(
                "Branch_1",
                ["Conv2d_0a_1x1", "Conv2d_0b_1x7", "Conv2d_0c_7x1", "Conv2d_1a_3x3"],
                "branch7x7x3",
            ),
        ),
    ),
    _block8(
        "mixed9", "Mixed_7b", "mixed_8x8x2048a", ["Conv2d_0a_1x1", "Conv2d_0b_1x3", "Conv2d_0b_3x1"]
    ),
    _block8(
        "mixed10",
        "Mixed_7c",
        "mixed_8x8x2048b",
        ["Conv2d_0a_1x1", "Conv2d_0b_1x3", "Conv2d_0c_3x1"],
    ),
)


@dataclass(frozen=True)
class ConvSpec:
    """One convolution (+ its batch norm) of the canonical layout."""

    index: int  # creation order, 0..93
    block: str  # "stem" or the Keras mixed block ("mixed0".."mixed10")
    slim: str  # slim scope relative to InceptionV3/, e.g. "Mixed_5b/Branch_1/Conv2d_0b_5x5"
    release: (
        str  # release scope relative to image_encoder/, e.g. "mixed_35x35x256a/branch5x5/Conv_1"
    )


def conv_specs() -> list[ConvSpec]:
    """The 94 convolutions of InceptionV3 (through mixed10) in creation order."""
    specs: list[ConvSpec] = []
    for slim, release in zip(_STEM_SLIM, _STEM_RELEASE):
        specs.append(ConvSpec(len(specs), "stem", slim, release))
    for block in BLOCKS:
        for slim_branch, slim_convs, release_branch in block.branches:
            for j, conv in enumerate(slim_convs):
                release_conv = "Conv" if j == 0 else f"Conv_{j}"
                specs.append(
                    ConvSpec(
                        len(specs),
                        block.keras,
                        f"{block.slim}/{slim_branch}/{conv}",
                        f"{block.release}/{release_branch}/{release_conv}",
                    )
                )
    return specs


def slim_variable_names() -> list[str]:
    """Full TF-Slim names this loader reads, in order (376)."""
    out = []
    for spec in conv_specs():
        base = f"{SLIM_ROOT}/{spec.slim}"
        out += [
            f"{base}/weights",
            f"{base}/BatchNorm/beta",
            f"{base}/BatchNorm/moving_mean",
            f"{base}/BatchNorm/moving_variance",
        ]
    return out


def release_variable_names() -> list[str]:
    """Full StickerChat release names this loader reads, in order (188)."""
    out = []
    for spec in conv_specs():
        base = f"{RELEASE_ROOT}/{spec.release}"
        out += [f"{base}/weights", f"{base}/biases"]
    return out


# --------------------------------------------------------------------------
# The Keras side: conv/BN layers of the backbone in creation order.
# --------------------------------------------------------------------------


@dataclass
class KerasConv:
    block: str
    conv: object  # keras.layers.Conv2D
    bn: object  # keras.layers.BatchNormalization


def _history(tensor):
    hist = getattr(tensor, "_keras_history", None)
    if hist is None:
        raise ValueError(
            f"tensor {tensor!r} carries no Keras history; pass a functional keras.Model"
        )
    return hist.operation, hist.node_index


def _parents(op, node_index):
    nodes = getattr(op, "_inbound_nodes", [])
    if node_index >= len(nodes):
        return []
    return [_history(t) for t in nodes[node_index].input_tensors]


def _creation_order(model) -> list[tuple[object, int]]:
    """Post-order DFS from the outputs, inputs visited in call order."""
    order: list[tuple[object, int]] = []
    seen = set()
    for out in model.outputs:
        root = _history(out)
        if (id(root[0]), root[1]) in seen:
            continue
        seen.add((id(root[0]), root[1]))
        stack = [[root, _parents(*root), 0]]
        while stack:
            frame = stack[-1]
            entry, parents, i = frame
            if i < len(parents):
                frame[2] += 1
                p = parents[i]
                key = (id(p[0]), p[1])
                if key not in seen:
                    seen.add(key)
                    stack.append([p, _parents(*p), 0])
            else:
                stack.pop()
                order.append(entry)
    return order


def keras_convs(backbone) -> list[KerasConv]:
    """Conv2D/BatchNormalization pairs of a Keras InceptionV3, in creation order.

    Raises ValueError when the model does not have InceptionV3's structure.
    """
    import keras

    order = _creation_order(backbone)
    # each BatchNormalization whose input is a Conv2D output
    bn_of: dict[int, object] = {}
    for op, node_index in order:
        if isinstance(op, keras.layers.BatchNormalization):
            parents = _parents(op, node_index)
            if len(parents) == 1 and isinstance(parents[0][0], keras.layers.Conv2D):
                conv = parents[0][0]
                if id(conv) in bn_of:
                    raise ValueError(
                        f"conv layer {conv.name!r} feeds more than one "
                        "BatchNormalization; not a Keras InceptionV3"
                    )
                bn_of[id(conv)] = op

    block_names = ["stem"] + [b.keras for b in BLOCKS]
    expected_counts = {"stem": len(_STEM_SLIM)}
    for b in BLOCKS:
        expected_counts[b.keras] = sum(len(c) for _, c, _ in b.branches)

    convs: list[KerasConv] = []
    pending: list[KerasConv] = []
    next_block = 1
    for op, _ in order:
        if isinstance(op, keras.layers.Conv2D):
            bn = bn_of.get(id(op))
            if bn is None:
                raise ValueError(
                    f"conv layer {op.name!r} is not followed by a "
                    "BatchNormalization; not a Keras InceptionV3"
                )
            pending.append(KerasConv("", op, bn))
        elif isinstance(op, keras.layers.Concatenate) and op.name in expected_counts:
            if next_block >= len(block_names) or op.name != block_names[next_block]:
                raise ValueError(
                    f"unexpected block {op.name!r} in the backbone; not a Keras InceptionV3"
                )
            if not convs:  # everything before mixed0 is the stem
                stem, pending = pending[: len(_STEM_SLIM)], pending[len(_STEM_SLIM) :]
                for c in stem:
                    c.block = "stem"
                convs += stem
            for c in pending:
                c.block = op.name
            convs += pending
            pending = []
            next_block += 1
    if pending or next_block != len(block_names):
        raise ValueError(
            "the backbone is not a Keras InceptionV3(include_top=False) through "
            f"mixed10 (found {len(convs) + len(pending)} Conv2D layers, blocks up to "
            f"{block_names[next_block - 1]!r})"
        )
    counts: dict[str, int] = {}
    for c in convs:
        counts[c.block] = counts.get(c.block, 0) + 1
    for name in block_names:
        if counts.get(name, 0) != expected_counts[name]:
            raise ValueError(
                f"block {name!r} of the backbone has {counts.get(name, 0)} conv layers, "
                f"InceptionV3 has {expected_counts[name]}; not a Keras InceptionV3"
            )
    return convs


# --------------------------------------------------------------------------
# Source resolution and format detection.
# --------------------------------------------------------------------------


def _is_hdf5(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(8) == _HDF5_MAGIC
    except OSError:
        return False


def _checkpoint_prefix(source: str) -> str | None:
    """The checkpoint prefix for a prefix, a directory or a shard path."""
    import tensorflow as tf

    if os.path.isdir(source):
        prefix = tf.train.latest_checkpoint(source)
        if prefix:
            return prefix
        indexes = sorted(glob.glob(os.path.join(source, "*.index")))
        if len(indexes) == 1:
            return indexes[0][: -len(".index")]
        if len(indexes) > 1:
            raise ValueError(
                f"{source} holds {len(indexes)} checkpoints and no 'checkpoint' state "
                f"file; point at one prefix, e.g. {indexes[-1][: -len('.index')]}"
            )
        return None
    if os.path.exists(source + ".index"):
        return source
    if source.endswith(".index") and os.path.isfile(source):
        return source[: -len(".index")]
    if ".data-" in os.path.basename(source) and os.path.isfile(source):
        return source[: source.rindex(".data-")]
    if os.path.isfile(source):  # a V1 checkpoint is a single file
        return source
    return None


def _match_root(names: Sequence[str], root: str, known: set) -> dict[str, str]:
    """Map root-relative known names to checkpoint names.

    A checkpoint name matches when some path component equals ``root`` and
    the rest is a known root-relative name; whatever precedes ``root`` is an
    outer scope (e.g. ``model/image_encoder/...``). The outer scope must be
    one and the same for all matches.
    """
    found: dict[str, list[str]] = {}
    prefixes = set()
    for name in names:
        parts = name.split("/")
        for i, part in enumerate(parts[:-1]):
            if part == root:
                rel = "/".join(parts[i + 1 :])
                if rel in known:
                    found.setdefault(rel, []).append(name)
                    prefixes.add("/".join(parts[:i]))
    dup = {rel: full for rel, full in found.items() if len(full) > 1}
    if dup:
        rel, full = sorted(dup.items())[0]
        raise ValueError(
            f"ambiguous checkpoint: {len(full)} variables match {root}/{rel}: "
            f"{', '.join(sorted(full))}"
        )
    if len(prefixes) > 1:
        raise ValueError(
            f"ambiguous checkpoint: {root}/ appears under several outer "
            f"scopes: {', '.join(repr(p) for p in sorted(prefixes))}"
        )
    return {rel: full[0] for rel, full in found.items()}


# --------------------------------------------------------------------------
# Loading.
# --------------------------------------------------------------------------


def _load_keras_file(backbone, path: str, fmt: str) -> int:
    import tempfile

    import h5py

    target = path
    tmpdir = None
    try:
        if path.endswith(".h5") and not path.endswith(".weights.h5") and _is_hdf5(path):
            with h5py.File(path, "r") as f:
                keras3_layout = "layer_names" not in f.attrs and "model_weights" not in f
            if keras3_layout:
                # Keras 3 picks the reader by file name; a Keras 3 weights file
                # under another name is read through a correctly named link.
                tmpdir = tempfile.mkdtemp(prefix="srs_inception_")
                target = os.path.join(tmpdir, "backbone.weights.h5")
                os.symlink(os.path.abspath(path), target)
        if not (target.endswith((".h5", ".hdf5", ".keras"))):
            raise ValueError(
                f"{path}: a Keras weights file must end in .weights.h5, .h5, .hdf5 or .keras"
            )
        try:
            with warnings.catch_warnings():
                # Keras 3.15 walks Functional._operations_by_depth as well as
                # .layers when reading a .weights.h5 and warns that those
                # (duplicate) containers are absent from the file; the layers
                # themselves are loaded through .layers.
                warnings.filterwarnings(
                    "ignore", message=r"Skipping nested container at '_operations_by_depth"
                )
                backbone.load_weights(target)
        except Exception as e:  # noqa: BLE001 - re-raised with context
            raise ValueError(
                f"could not load Keras weights {path} into the InceptionV3 backbone "
                f"({type(e).__name__}: {e}). The file must hold the weights of "
                "keras.applications.InceptionV3(include_top=False) (Keras 3 "
                "save_weights or the Keras 2 *_notop.h5 layout)"
            ) from e
    finally:
        if tmpdir is not None:
            try:
                os.remove(target)
                os.rmdir(tmpdir)
            except OSError:
                pass
    n = len(backbone.weights)
    print(f"loaded {n} tensors from {path} ({fmt})", flush=True)
    return n


def _shape(x) -> tuple[int, ...]:
    return tuple(int(d) for d in x.shape)


def _load_checkpoint(backbone, source: str, prefix: str) -> int:
    import tensorflow as tf

    try:
        reader = tf.train.load_checkpoint(prefix)
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"could not read TF checkpoint {prefix}: {e}") from e
    shapes = reader.get_variable_to_shape_map()
    names = sorted(shapes)
    specs = conv_specs()

    slim_known = set()
    for s in specs:
        slim_known.update(
            {
                f"{s.slim}/weights",
                f"{s.slim}/BatchNorm/beta",
                f"{s.slim}/BatchNorm/moving_mean",
                f"{s.slim}/BatchNorm/moving_variance",
                f"{s.slim}/BatchNorm/gamma",
            }
        )
    release_known = set()
    for s in specs:
        release_known.update(
            {
                f"{s.release}/weights",
                f"{s.release}/biases",
                f"{s.release}/BatchNorm/beta",
                f"{s.release}/BatchNorm/moving_mean",
                f"{s.release}/BatchNorm/moving_variance",
                f"{s.release}/BatchNorm/gamma",
            }
        )
    slim_map = _match_root(names, SLIM_ROOT, slim_known)
    release_map = _match_root(names, RELEASE_ROOT, release_known)
    if not release_map and not slim_map:
        # the release network built without an outer scope (names start
        # directly with conv0/, mixed_35x35x256a/, ...)
        release_map = {n: n for n in names if n in release_known}
    if slim_map and release_map:
        raise ValueError(
            f"checkpoint {prefix} holds both TF-Slim ({SLIM_ROOT}/...) and StickerChat "
            f"release ({RELEASE_ROOT}/...) InceptionV3 variables; cannot tell which to load"
        )
    if not slim_map and not release_map:
        sample = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise ValueError(
            f"checkpoint {prefix} holds no InceptionV3 variables: expected TF-Slim names "
            f"like {SLIM_ROOT}/Conv2d_1a_3x3/weights or StickerChat release names like "
            f"{RELEASE_ROOT}/conv0/weights; found {len(names)} variables ({sample})"
        )
    fmt = FORMAT_SLIM if slim_map else FORMAT_RELEASE
    found = slim_map or release_map
    kconvs = keras_convs(backbone)
    assert len(kconvs) == len(specs)

    def lookup(rel: str, keras_what: str):
        full = found.get(rel)
        if full is None:
            root = SLIM_ROOT if fmt == FORMAT_SLIM else RELEASE_ROOT
            raise ValueError(
                f"checkpoint {prefix} ({fmt}) does not cover the network: variable "
                f"{root}/{rel} is missing (needed for Keras {keras_what})"
            )
        return full, reader.get_tensor(full)

    def check(full, value, var, keras_what):
        if _shape(value) != _shape(var):
            raise ValueError(
                f"shape mismatch: checkpoint variable {full} has shape "
                f"{list(_shape(value))}, Keras {keras_what} expects {list(_shape(var))}"
            )

    assignments = []
    read = 0
    for spec, kc in zip(specs, kconvs):
        conv, bn = kc.conv, kc.bn
        if getattr(conv, "use_bias", False):
            raise ValueError(
                f"Keras conv layer {conv.name!r} has a bias; InceptionV3's convs have none"
            )
        scope = spec.slim if fmt == FORMAT_SLIM else spec.release
        where = f"{kc.block} conv #{spec.index}"
        what = f"{where} layer {conv.name!r} kernel"
        full, w = lookup(f"{scope}/weights", what)
        check(full, w, conv.kernel, what)
        assignments.append((conv.kernel, w))
        read += 1

        bn_what = f"{where} batch-norm layer {bn.name!r}"
        if bn.beta is None:
            raise ValueError(f"Keras {bn_what} has no beta (center=False)")
        eps = float(bn.epsilon)
        bias_name = f"{scope}/biases"
        if fmt == FORMAT_RELEASE and bias_name in found:
            full, b = lookup(bias_name, f"{bn_what} beta")
            check(full, b, bn.beta, f"{bn_what} beta")
            read += 1
            n = _shape(bn.beta)[0]
            assignments.append((bn.beta, b))
            assignments.append((bn.moving_mean, np.zeros([n], np.float32)))
            assignments.append((bn.moving_variance, np.full([n], 1.0 - eps, np.float32)))
            if bn.gamma is not None:
                assignments.append((bn.gamma, np.ones([n], np.float32)))
            continue
        if fmt == FORMAT_RELEASE and f"{scope}/BatchNorm/beta" not in found:
            lookup(bias_name, f"{bn_what} beta (bias + identity normalisation)")
        for part, var in (
            ("beta", bn.beta),
            ("moving_mean", bn.moving_mean),
            ("moving_variance", bn.moving_variance),
        ):
            full, v = lookup(f"{scope}/BatchNorm/{part}", f"{bn_what} {part}")
            check(full, v, var, f"{bn_what} {part}")
            assignments.append((var, v))
            read += 1
        gamma_name = f"{scope}/BatchNorm/gamma"
        if gamma_name in found:
            full, g = lookup(gamma_name, f"{bn_what} gamma")
            if bn.gamma is not None:
                check(full, g, bn.gamma, f"{bn_what} gamma")
                assignments.append((bn.gamma, g))
                read += 1
            elif not np.allclose(g, 1.0):
                raise ValueError(
                    f"checkpoint variable {full} is a batch-norm scale, but Keras "
                    f"{bn_what} has none (scale=False); cannot represent it"
                )
        elif bn.gamma is not None:
            assignments.append((bn.gamma, np.ones(_shape(bn.gamma), np.float32)))

    for var, value in assignments:
        var.assign(np.asarray(value, dtype=np.float32).astype(var.dtype))
    ignored = len(names) - read
    print(
        f"loaded {read} tensors from {source} ({fmt}); ignored {ignored} other "
        "checkpoint variables",
        flush=True,
    )
    return read


def load_inception_weights(backbone, source: str) -> int:
    """Load pretrained weights into a Keras InceptionV3(include_top=False).

    Args:
      backbone: ``keras.applications.InceptionV3(include_top=False,
        weights=None, input_shape=(S, S, 3))`` (any S).
      source: ``"imagenet"``, a Keras ``.weights.h5``/``.h5``/``.hdf5``/
        ``.keras`` file, or a TF checkpoint (prefix, shard path or directory)
        in TF-Slim or StickerChat release naming.

    Returns:
      The number of tensors read from the source (all backbone weights for a
      Keras file; 376 for TF-Slim; 188 for the release checkpoint, whose 94
      biases also define the 2 x 94 identity moving statistics).

    Raises:
      ValueError: unreadable source, a checkpoint that does not cover the
        network (names the missing variable), or a shape mismatch (names the
        checkpoint variable and the Keras layer).
      FileNotFoundError: the path does not exist.
    """
    source = os.fspath(source)
    if source == "imagenet":
        import keras

        from srs_tf.model.imagenet import ensure_imagenet_weights

        # Keras' own weights, from the Keras cache only (never downloaded).
        reference = keras.applications.InceptionV3(
            include_top=False,
            weights=ensure_imagenet_weights(),
            input_shape=tuple(backbone.input_shape[1:]),
        )
        weights = reference.get_weights()
        backbone.set_weights(weights)
        print(f"loaded {len(weights)} tensors from imagenet ({FORMAT_IMAGENET})")
        return len(weights)
    if source in ("", "none"):
        raise ValueError(f"no pretrained weights requested (source={source!r})")
    if os.path.isfile(source) and (_is_hdf5(source) or source.endswith(".keras")):
        return _load_keras_file(backbone, source, FORMAT_KERAS_H5)
    if source.endswith((".h5", ".hdf5", ".keras")) and not os.path.exists(source):
        raise FileNotFoundError(f"Keras weights file not found: {source}")
    prefix = _checkpoint_prefix(source)
    if prefix is None:
        raise FileNotFoundError(
            f"pretrained InceptionV3 weights not found: {source} (expected a Keras "
            ".h5 file, a TF checkpoint prefix such as .../inception_v3.ckpt, or a "
            "directory holding one)"
        )
    return _load_checkpoint(backbone, source, prefix)
