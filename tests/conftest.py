"""Shared fixtures: a small open demo benchmark and its TFRecords, built once
per test session (each a few seconds).

The test modules sit in subdirectories mirroring the packages of srs_tf
(tests/data, tests/model, tests/training, tests/evaluation, tests/serving).
This file puts tests/ on sys.path, so the shared helpers next to it
(``model_helpers``, ``release_fixture``) import by plain name from any of
them, and ``from conftest import REPO`` gives the repository root.
"""

import os
import sys

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TESTS)
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

# Small enough to build in seconds, large enough for a real training signal.
SMALL_DEMO = dict(
    num_sets=16,
    min_stickers=10,
    max_stickers=18,
    train_size=1600,
    val_size=200,
    test_size=200,
    seed=3,
)


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory):
    from srs_tf.data.demo.generate import DemoConfig, generate

    path = str(tmp_path_factory.mktemp("demo") / "DATA")
    generate(DemoConfig(output_dir=path, **SMALL_DEMO))
    return path


@pytest.fixture(scope="session")
def demo_tfrec(demo_data, tmp_path_factory):
    from srs_tf.data.tfrecords import TFRecordsConfig, make_tfrecords

    path = str(tmp_path_factory.mktemp("demo") / "TFREC")
    make_tfrecords(TFRecordsConfig(data_dir=demo_data, output_dir=path, progress=False))
    return path


@pytest.fixture(scope="session")
def demo_tfrec_small(demo_data, tmp_path_factory):
    """``demo_data`` at 75 px (9 regions, Inception's smallest input): for the
    tests of the training loop, whose cost is mostly Inception running over
    the bank (batch-norm calibration, encoding, warm-up) and which do not
    depend on the image size; a third of the pixels of 128 px."""
    from srs_tf.data.tfrecords import TFRecordsConfig, make_tfrecords

    path = str(tmp_path_factory.mktemp("demo") / "TFREC75")
    make_tfrecords(
        TFRecordsConfig(data_dir=demo_data, output_dir=path, image_size=75, progress=False)
    )
    return path


# A demo build whose cues are all strong and recent (no cue-less, weak or
# misleading contexts, no random labels, at most 5 turns): the signal a short
# CPU training can pick up beyond sticker popularity. Calibration (2-core CPU,
# frozen random-init encoder, Adam 3e-4; at 128 px and 30 words): validation
# MAP 0.35-0.36 after 100 steps, 0.39-0.41 after 200, 0.47-0.49 after 300,
# 0.49 after 400 and 0.62 after 700 (seeds 1234 and 7); at 75 px and 12 words
# (`learnable_tfrec_small`, seed 1234) 0.41 / 0.43 / 0.45 / 0.49 after 100 /
# 200 / 300 / 400. Chance is 0.293, and a 400-example MAP has a standard error
# of about 0.0135.
LEARNABLE_DEMO = dict(
    num_sets=16,
    min_stickers=10,
    max_stickers=18,
    train_size=1600,
    val_size=400,
    test_size=400,
    seed=3,
    min_turns=2,
    max_turns=5,
    no_cue_fraction=0.0,
    weak_cue_fraction=0.0,
    misleading_fraction=0.0,
    random_label_fraction=0.0,
    duplicate_fraction=0.0,
)


@pytest.fixture(scope="session")
def learnable_data(tmp_path_factory):
    from srs_tf.data.demo.generate import DemoConfig, generate

    path = str(tmp_path_factory.mktemp("learnable") / "DATA")
    generate(DemoConfig(output_dir=path, **LEARNABLE_DEMO))
    return path


@pytest.fixture(scope="session")
def learnable_tfrec_small(learnable_data):
    """The learnable build at 75 px (9 regions, Inception's smallest input) and
    12 words per utterance (86% of its utterances are whole; the others keep
    their first 12 words): the learning tests of SRS and the baselines (DAM's
    matching cube is 40 times smaller than at 128 px and 30 words)."""
    from srs_tf.data.tfrecords import TFRecordsConfig, make_tfrecords

    path = os.path.join(os.path.dirname(learnable_data), "TFREC_small")
    make_tfrecords(
        TFRecordsConfig(
            data_dir=learnable_data,
            output_dir=path,
            context_len=5,
            max_words=12,
            image_size=75,
            progress=False,
        )
    )
    return path


def pytest_collection_modifyitems(config, items):
    """Run the tests marked ``slow`` first (stable order otherwise).

    ``make test`` spreads the tests over two xdist workers, one test at a
    time (``--maxschedchunk=1`` in pytest.ini): with the long trainings
    first, the short tests fill the gaps at the end instead of one worker
    idling while the other runs a four-minute training collected last.
    """
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
