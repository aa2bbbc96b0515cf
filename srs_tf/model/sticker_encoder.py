"""Sticker encoder (paper §5.2, eq. 1) and its auxiliary emoji classifier."""

from __future__ import annotations

import keras
from keras import ops

# Inception-v3 end point used as the region map O (TF-Slim ``Mixed_6e``,
# release ``mixed_17x17x768e``): 6x6x768 at 128 px.
REGION_LAYER = "mixed7"
REGION_DIM = 768
FLAT_DIM = 2048
MIN_IMAGE_SIZE = 75  # smallest input Keras' InceptionV3 accepts
# Inception-v3's blocks in order; `--upper_from` names the first block that
# trains in the `upper` sticker-encoder mode (docs/FIDELITY.md). The cut lies
# at or below REGION_LAYER (the region map O is computed from the cache), and
# mixed3 to mixed7 all output the 6x6x768 grid at 128 px, so every choice
# caches activations of the same size.
BLOCKS = tuple(f"mixed{i}" for i in range(11))
UPPER_FROM_CHOICES = tuple(f"mixed{i}" for i in range(4, 9))


def region_grid_size(image_size: int) -> int:
    """Side of the ``mixed7`` feature map of Keras' InceptionV3 for ``image_size``.

    Follows the stem (3x3/2 valid, 3x3 valid, 3x3 same, 3x3/2 max-pool,
    1x1, 3x3 valid, 3x3/2 max-pool), the 35x35 blocks (same padding) and the
    3x3/2 reduction of ``mixed3``: 128 px -> 6, 299 px -> 17, 75 px -> 3.
    """
    size = int(image_size)
    if size < MIN_IMAGE_SIZE:
        raise ValueError(f"image_size must be >= {MIN_IMAGE_SIZE} for InceptionV3, got {size}")
    size = (size - 3) // 2 + 1  # conv 3x3 stride 2, valid
    size = size - 2  # conv 3x3 valid
    size = (size - 3) // 2 + 1  # max-pool 3x3 stride 2
    size = size - 2  # conv 3x3 valid (after the 1x1)
    size = (size - 3) // 2 + 1  # max-pool 3x3 stride 2
    return (size - 3) // 2 + 1  # mixed3 reduction, stride 2


def num_regions(image_size: int) -> int:
    """Number of sticker regions ``p*p`` in O (36 at 128 px)."""
    return region_grid_size(image_size) ** 2


@keras.saving.register_keras_serializable(package="srs_tf")
class StickerEncoder(keras.layers.Layer):
    """Inception-v3 sticker encoder, eq. 1, plus the emoji classifier.

    ``O, O_flat = Inception-v3(c)``: the image goes through Keras'
    ``InceptionV3(include_top=False)`` after inception preprocessing
    (``x / 127.5 - 1`` on 0-255 pixel values); ``O`` is the ``mixed7`` map
    reshaped to ``[p*p, 768]`` (36 regions at 128 px), ``O_flat`` the global
    average pool of the last block (2048). The emoji classifier of §5.2 is
    one linear layer on ``O_flat`` (float32 logits).

    Batch normalisation: with ``freeze_batch_norm=True`` (encoder started
    from pretrained weights) the backbone always runs BN in inference mode,
    whatever ``training`` says (the Keras fine-tuning convention; the
    weights themselves stay trainable). With ``False`` (random init,
    ``no_pretrain``) BN uses batch statistics when ``training`` is true.

    Args:
      image_size: sticker side S in pixels (>= 75; paper: 128).
      emoji_vocab_size: number of emoji classes E.
      inception_weights: ``"none"`` (random), ``"imagenet"`` (Keras'
        weights, from the Keras cache; never downloaded) or a path handed to
        ``srs_tf.model.inception_weights.load_inception_weights`` (Keras
        ``.h5``, TF-Slim or StickerChat release checkpoint).
      freeze_batch_norm: BN mode as above; defaults to
        ``inception_weights != "none"``.

    ``get_config`` records ``inception_weights="none"``: a layer rebuilt from
    its config gets its weights from the checkpoint it is restored from, so
    rebuilding never downloads or reads the original weight file.

    Call args:
      images: ``[N, S, S, 3]`` pixel values 0-255 (uint8 or float).
      training: see batch normalisation above.

    Returns:
      ``(regions [N, p*p, 768], flat [N, 2048], emoji_logits [N, E] float32)``.

    Example:
    >>> encoder = StickerEncoder(image_size=128, emoji_vocab_size=64)
    >>> regions, flat, logits = encoder(np.zeros((2, 128, 128, 3), "uint8"))
    >>> regions.shape, flat.shape, logits.shape
    ((2, 36, 768), (2, 2048), (2, 64))
    """

    def __init__(
        self,
        image_size: int = 128,
        emoji_vocab_size: int = 64,
        inception_weights: str = "none",
        freeze_batch_norm: bool | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.image_size = int(image_size)
        self.emoji_vocab_size = int(emoji_vocab_size)
        weights = inception_weights if inception_weights not in (None, "") else "none"
        self.inception_weights = str(weights)
        if freeze_batch_norm is None:
            freeze_batch_norm = self.inception_weights != "none"
        self.freeze_batch_norm = bool(freeze_batch_norm)
        self.grid_size = region_grid_size(self.image_size)
        self.num_regions = self.grid_size**2

        # "imagenet": Keras' file from the Keras cache, loaded by path so that
        # Keras never downloads it (srs_tf.model.imagenet).
        self.backbone = keras.applications.InceptionV3(
            include_top=False,
            weights=_imagenet_path() if self.inception_weights == "imagenet" else None,
            input_shape=(self.image_size, self.image_size, 3),
        )
        self.features = keras.Model(
            self.backbone.input,
            [self.backbone.get_layer(REGION_LAYER).output, self.backbone.output],
            name="inception_v3_features",
        )
        self.emoji_classifier = keras.layers.Dense(
            self.emoji_vocab_size, dtype="float32", name="emoji_classifier"
        )
        self.loaded_tensors = 0
        if self.inception_weights not in ("none", "imagenet"):
            self.loaded_tensors = self.load_pretrained(self.inception_weights)

    def load_pretrained(self, source: str) -> int:
        """Loads Inception-v3 weights from a file; returns the tensor count."""
        from srs_tf.model.inception_weights import load_inception_weights  # lazy: optional module

        return load_inception_weights(self.backbone, source)

    def build(self, images_shape):
        self.emoji_classifier.build((None, FLAT_DIM))
        self.built = True

    def call(self, images, training=None):
        pixels = ops.cast(images, "float32") / 127.5 - 1.0  # inception preprocessing
        pixels = ops.cast(pixels, self.compute_dtype)
        backbone_training = False if self.freeze_batch_norm else training
        region_map, last = self.features(pixels, training=backbone_training)
        regions = ops.reshape(region_map, (-1, self.num_regions, REGION_DIM))
        flat = ops.mean(last, axis=(1, 2))
        emoji_logits = self.emoji_classifier(flat)
        return regions, flat, emoji_logits

    def compute_output_shape(self, images_shape):
        batch = images_shape[0]
        return (
            (batch, self.num_regions, REGION_DIM),
            (batch, FLAT_DIM),
            (batch, self.emoji_vocab_size),
        )

    # ------------------------------------------------- the `upper` encoder mode
    def lower_blocks(self, upper_from: str) -> keras.Model:
        """Pixels -> the activations that feed block ``upper_from``.

        The returned model takes the stickers as ``call`` does (0-255 pixel
        values) and applies the inception preprocessing itself. It shares its
        layers (and so its variables) with this encoder.
        """
        cut = self._cut_layer(upper_from)
        pixels = keras.Input((self.image_size, self.image_size, 3), name="images")
        lower = keras.Model(
            self.backbone.input, self.backbone.get_layer(cut).output, name=f"inception_v3_to_{cut}"
        )
        activations = lower(pixels / 127.5 - 1.0)
        return keras.Model(pixels, activations, name=f"lower_blocks_to_{cut}")

    def upper_blocks(self, upper_from: str) -> keras.Model:
        """Activations of ``lower_blocks(upper_from)`` -> ``(regions, flat,
        emoji_logits)``, exactly the rest of ``call``.

        Keras cannot cut a functional model at an inner tensor, so the layers
        from ``upper_from`` on are called again on a new input (the same layer
        objects: the variables are shared with this encoder).
        """
        cut = self._cut_layer(upper_from)
        cut_tensor = self.backbone.get_layer(cut).output
        activations = keras.Input(tuple(cut_tensor.shape[1:]), name=f"{cut}_activations")
        tensors = {id(cut_tensor): activations}
        # _nodes_by_depth: Keras' own topological order (deepest = nearest the input).
        for depth in sorted(self.backbone._nodes_by_depth, reverse=True):
            for node in self.backbone._nodes_by_depth[depth]:
                inputs = node.input_tensors
                if (
                    any(id(t) in tensors for t in node.outputs)
                    or not inputs
                    or not all(id(t) in tensors for t in inputs)
                ):
                    continue
                args, kwargs = node.arguments.fill_in(tensors)
                outputs = keras.tree.flatten(node.operation(*args, **kwargs))
                for symbolic, value in zip(node.outputs, outputs):
                    tensors[id(symbolic)] = value
        region_map = tensors[id(self.backbone.get_layer(REGION_LAYER).output)]
        last = tensors[id(self.backbone.output)]
        regions = keras.layers.Reshape((self.num_regions, REGION_DIM))(region_map)
        flat = keras.layers.GlobalAveragePooling2D()(last)
        return keras.Model(
            activations,
            [regions, flat, self.emoji_classifier(flat)],
            name=f"upper_blocks_from_{upper_from}",
        )

    def _cut_layer(self, upper_from: str) -> str:
        """Name of the block whose output feeds ``upper_from``."""
        if upper_from not in UPPER_FROM_CHOICES:
            raise ValueError(
                f"upper_from={upper_from!r} is not one of {', '.join(UPPER_FROM_CHOICES)}"
            )
        return BLOCKS[BLOCKS.index(upper_from) - 1]

    def get_config(self):
        config = super().get_config()
        config.update(
            image_size=self.image_size,
            emoji_vocab_size=self.emoji_vocab_size,
            inception_weights="none",
            freeze_batch_norm=self.freeze_batch_norm,
        )
        return config


def _imagenet_path() -> str:
    from srs_tf.model.imagenet import ensure_imagenet_weights  # lazy: reads the Keras cache

    return ensure_imagenet_weights()
