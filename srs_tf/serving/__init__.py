"""srs_tf.serving."""
