"""srs_tf.experiments: the paper's tables and figures as commands.

``python experiments/run.py NAME --scale=smoke|demo|paper --results_dir=DIR``
(docs/EXPERIMENTS.md). ``plan`` turns a NAME and a scale into the list of
runs (one ``bin/train`` + ``bin/evaluate`` each), ``runner`` executes them
resumably, ``report`` writes ``DIR/NAME/{table.md, runs.json,
commands.txt}``.
"""
