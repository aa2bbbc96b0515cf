"""srs_tf.baselines: the Table 3 baselines (paper §6.2), one module each.

Every module defines its layers and ``build_matcher(config) -> keras.Model``
with the matcher interface of `srs_tf.model.matcher_io` (the inputs and
outputs of SRS's own matcher), so `bin/train --model=NAME`, evaluation,
export and serving treat all six systems alike. docs/BASELINES.md says for
each what was kept from the original and what was adapted to stickers.

* ``smn``: Sequential Matching Network (Wu et al., ACL 2017).
* ``dam``: Deep Attention Matching network (Zhou et al., ACL 2018).
* ``mrfn``: Multi-Representation Fusion Network (Tao et al., WSDM 2019).
* ``psac``: Positional Self-Attention with Co-attention (Li et al., AAAI 2019).
* ``synergistic``: image-question-answer synergistic network (Guo et al., CVPR 2019).
"""

from __future__ import annotations

import importlib

import keras

from srs_tf.model_config import ARCHITECTURES

BASELINES = tuple(name for name in ARCHITECTURES if name != "srs")


def build_baseline_matcher(config) -> keras.Model:
    """The matcher of baseline ``config.architecture`` (a Keras model named ``matcher``)."""
    name = config.architecture
    if name not in BASELINES:
        raise ValueError(f"{name!r} is not a baseline: choose one of {', '.join(BASELINES)}")
    module = importlib.import_module(f"srs_tf.baselines.{name}")
    return module.build_matcher(config)


__all__ = ["BASELINES", "build_baseline_matcher"]
