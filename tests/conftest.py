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
