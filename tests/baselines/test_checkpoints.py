"""Every weight of every matcher is in the checkpoints bin/train writes.

Found by the pipeline test: DAM, MRFN and PSAC once held sublayers in Python
lists, which Keras tracks for ``model.weights`` but TensorFlow's checkpoint
graph does not, so most of DAM's weights were neither saved nor restored
(training looked fine; evaluation and export used random weights)."""

import pytest
from baseline_helpers import check_checkpoint_round_trip, tiny_config

from srs_tf.model import build_matcher
from srs_tf.model_config import ARCHITECTURES


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_checkpoint_saves_and_restores_every_weight(name, tmp_path):
    check_checkpoint_round_trip(lambda: build_matcher(tiny_config(name)), tmp_path)
