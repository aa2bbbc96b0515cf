"""srs_tf.model."""
