"""srs_tf.data."""
