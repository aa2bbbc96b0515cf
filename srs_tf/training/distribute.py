"""Distribution strategies for `bin/train`: multi-GPU and multi-worker
(docs/DESIGN.md#training-runs)."""

from __future__ import annotations

import json
import os
import tempfile

import tensorflow as tf


def make_strategy(name: str) -> tf.distribute.Strategy:
    """Returns the strategy named by `--strategy`.

    - ``default``: the current device (one GPU if present, else the CPU).
    - ``mirrored``: `MirroredStrategy` over all local GPUs (the CPU if none).
    - ``multi_worker``: `MultiWorkerMirroredStrategy` configured by the
      ``TF_CONFIG`` environment variable; must be created before any other
      TensorFlow op runs in the process.
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError(
                "--strategy=multi_worker needs the TF_CONFIG environment variable "
                "(cluster spec and this worker's task)"
            )
        communication = tf.distribute.experimental.CommunicationOptions(
            implementation=tf.distribute.experimental.CommunicationImplementation.AUTO
        )
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=communication)
    raise ValueError(f"--strategy={name!r} is not one of default, mirrored, multi_worker")


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True on the worker that writes checkpoints, summaries and reports."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type is None:
        return True
    if task_type == "chief":
        return True
    cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    return task_type == "worker" and task_id == 0 and "chief" not in cluster


def writable_dir(model_dir: str, strategy: tf.distribute.Strategy) -> str:
    """Where this worker saves: the run directory on the chief, a scratch
    directory elsewhere (multi-worker saving is collective, every worker must
    write somewhere, only the chief's copy is kept)."""
    if is_chief(strategy):
        return model_dir
    resolver = strategy.cluster_resolver
    return tempfile.mkdtemp(prefix=f"srs_worker{resolver.task_id}_")
