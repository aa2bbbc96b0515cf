"""srs_tf.training."""
