"""srs_tf: the Sticker Response Selector (SRS, WWW 2020) in TensorFlow/Keras."""

__version__ = "0.1.0"
