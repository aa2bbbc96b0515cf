"""srs_tf.model: the SRS network (paper §5), one Keras layer per component.

* ``AttentiveModule`` (eq. 3-6), ``UtteranceEncoder`` (eq. 2-6),
  ``StickerEncoder`` (eq. 1 + emoji classifier), ``DeepInteraction``
  (eq. 7-11), ``FusionNetwork`` (eq. 12-16) and ``TurnMask``.
* ``build_sticker_encoder``, ``build_matcher``, ``build_srs``: the functional
  models of docs/CONTRACTS.md.
* ``hinge_loss`` (eq. 17) and ``emoji_loss`` (L_s).
"""

from srs_tf.model.attentive_module import AttentiveModule, masked_max, masked_softmax
from srs_tf.model.deep_interaction import DeepInteraction
from srs_tf.model.feature_normalization import StickerFeatureNormalization
from srs_tf.model.fusion import FusionNetwork, TurnMask
from srs_tf.model.losses import emoji_loss, hinge_loss
from srs_tf.model.srs import (
    MergeCandidates,
    SplitCandidates,
    build_matcher,
    build_srs,
    build_sticker_encoder,
)
from srs_tf.model.sticker_encoder import StickerEncoder, num_regions, region_grid_size
from srs_tf.model.utterance_encoder import UtteranceEncoder
from srs_tf.model_config import uses_emoji_loss

__all__ = [
    "AttentiveModule",
    "DeepInteraction",
    "FusionNetwork",
    "MergeCandidates",
    "SplitCandidates",
    "StickerEncoder",
    "StickerFeatureNormalization",
    "TurnMask",
    "UtteranceEncoder",
    "build_matcher",
    "build_srs",
    "build_sticker_encoder",
    "emoji_loss",
    "hinge_loss",
    "masked_max",
    "masked_softmax",
    "num_regions",
    "region_grid_size",
    "uses_emoji_loss",
]
