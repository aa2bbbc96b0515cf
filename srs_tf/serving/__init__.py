"""srs_tf.serving: SavedModel export, sticker recommendation and serving benchmarks.

* ``srs_tf.serving.export``: ``export_saved_model``, ``export_atomic``,
  ``export_run`` (``bin/export``) and the signatures of docs/SERVING.md.
* ``srs_tf.serving.recommend``: ``Recommender``, ``load_sticker_dir``,
  ``recommend`` (``bin/recommend``); needs only TensorFlow, numpy, Pillow and
  jieba at run time.
* ``srs_tf.serving.bench``: ``run_serve_benchmark``, ``print_serve_report``
  (``bin/benchmark --what=serve``).

The submodules are not imported here, so importing the package stays cheap.
"""
