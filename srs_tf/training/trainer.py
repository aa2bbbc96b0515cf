"""The SRS training loop (paper §5.6; docs/DESIGN.md#learning,
docs/DESIGN.md#training-runs).

Two stages, as the release code:
  1. emoji warm-up: for `emoji_warmup_steps` steps only the emoji loss L_s
     trains the sticker encoder (on stickers drawn from the bank);
  2. joint training: L_r (eq. 17) + L_s train everything.
With `sticker_encoder="frozen"` the bank is encoded once after stage 1 and
stage 2 trains only the matcher (eq. 2-16) on the cached representations.
With `sticker_encoder="upper"` stage 1 trains only the upper Inception blocks
on cached lower-block activations (srs_tf.training.upper_blocks); stage 2 is
the frozen mode's. A randomly initialised backbone gets its batch-norm moving
statistics calibrated on the bank before anything is encoded in inference
mode (both cached modes).

Everything needed to resume is in the checkpoint (model, optimizer, global
step, best validation MAP); rerunning the same command continues from the
newest one. The input stream is not replayed on resume: it restarts with a
seed derived from the resumed step, so a resumed run sees fresh shuffles and
negatives rather than repeating the batches it already trained on.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Iterator

import keras
import numpy as np
import tensorflow as tf

from srs_tf import atomic
from srs_tf.evaluation import scoring
from srs_tf.progress import Progress
from srs_tf.restore import (
    BEST_CHECKPOINT_DIR,
    CHECKPOINT_DIR,
    CONFIG_FILE,
    checkpoint_to_restore,
)
from srs_tf.run_config import TrainConfig, configure_model
from srs_tf.training import distribute as dist
from srs_tf.training.feature_share import channel_moments, label_variance_share


class TrainingDiverged(RuntimeError):
    """The loss became NaN or Inf."""


def set_seed(seed: int) -> None:
    """Seeds Python, numpy and TF. On CPU also asks TF for deterministic ops
    (same seed -> identical metrics); on GPUs that is left off, since some
    ops have no deterministic GPU kernel and would raise (untested here)."""
    keras.utils.set_random_seed(int(seed))
    if not tf.config.list_physical_devices("GPU"):
        tf.config.experimental.enable_op_determinism()


class Trainer:
    """Builds SRS for a run directory and trains it (see module docstring)."""

    def __init__(
        self,
        config: TrainConfig,
        strategy: tf.distribute.Strategy | None = None,
        verbose: bool = True,
        sticker_features=None,
    ):
        """``sticker_features``: optional precomputed ``(regions [N, R, 768],
        flat [N, 2048])`` for the N bank rows, used instead of encoding the
        bank in frozen mode (diagnostics such as
        ``srs_tf.data.demo.oracle_features``)."""
        from srs_tf.data import pipeline

        self.meta = pipeline.load_meta(config.data_dir)
        self.config = configure_model(config, self.meta)
        self.verbose = verbose
        self.strategy = strategy or dist.make_strategy(self.config.strategy)
        self.chief = dist.is_chief(self.strategy)
        self.save_dir = dist.writable_dir(self.config.model_dir, self.strategy)
        self._check_run_dir()
        set_seed(self.config.seed)
        if self.config.mixed_precision:
            keras.mixed_precision.set_global_policy("mixed_float16")
        self._bank = None
        self.steps_per_epoch = max(1, int(self.meta["train_examples"]) // self.config.batch_size)
        self.joint_steps = (
            self.config.train_steps
            if self.config.train_steps > 0
            else int(math.ceil(self.config.epochs * self.steps_per_epoch))
        )
        self.total_steps = self.config.warmup_steps + self.joint_steps
        self._build()
        self.frozen_features = None
        self._given_features = None
        if sticker_features is not None:
            if self.config.sticker_encoder != "frozen":
                raise ValueError(
                    "sticker_features replace the encoded bank: they need --sticker_encoder=frozen"
                )
            regions, flat = sticker_features
            if regions.shape[0] != len(self.bank) or flat.shape[0] != len(self.bank):
                raise ValueError(
                    f"sticker_features have {regions.shape[0]}/{flat.shape[0]} rows, "
                    f"the bank {len(self.bank)}"
                )
            dtype = keras.mixed_precision.global_policy().compute_dtype
            self._given_features = (
                tf.constant(regions, dtype=dtype),
                tf.constant(flat, dtype=dtype),
            )

    # ------------------------------------------------------------------ setup
    @property
    def bank(self):
        """The sticker bank (loaded on first use: the full release is ~8.6 GB)."""
        if self._bank is None:
            from srs_tf.data import pipeline

            self._bank = pipeline.load_sticker_bank(self.config.data_dir)
        return self._bank

    def _progress(self, label: str, total: int, unit: str, start: int = 0, every_s=0.0):
        """A progress counter printing to stdout (the chief, when verbose)."""
        return Progress(
            label,
            total=total,
            unit=unit,
            every_s=every_s,
            enabled=self.verbose and self.chief,
            write=lambda line: print(line, flush=True),
            start=start,
        )

    def _log(self, message: str) -> None:
        if self.verbose and self.chief:
            print(message, flush=True)

    def _check_run_dir(self) -> None:
        """Writes RUN/config.json, or checks a resumed run uses the same one."""
        path = os.path.join(self.config.model_dir, CONFIG_FILE)
        os.makedirs(self.config.model_dir, exist_ok=True)
        wanted = self.config.to_dict()
        if os.path.exists(path):
            with open(path) as f:
                saved = json.load(f)
            if saved.get("model") != wanted["model"]:
                diff = {
                    k: (saved.get("model", {}).get(k), v)
                    for k, v in wanted["model"].items()
                    if saved.get("model", {}).get(k) != v
                }
                raise ValueError(
                    f"{path}: the run was started with another model config "
                    f"(saved, now): {diff}; use a new --model_dir"
                )
        if self.chief:
            atomic.write_json(path, wanted)

    def _learning_rate(self):
        c = self.config
        if c.lr_schedule == "constant":
            return c.learning_rate
        return keras.optimizers.schedules.PolynomialDecay(
            c.learning_rate,
            decay_steps=max(1, int(c.decay_epochs * self.steps_per_epoch)),
            end_learning_rate=c.end_learning_rate,
        )

    def _build(self) -> None:
        from srs_tf.model import build_srs

        c = self.config
        # Resuming: the checkpoint holds every weight, so the original Inception
        # weights (e.g. the ImageNet file) are not read again.
        resuming = bool(tf.train.latest_checkpoint(os.path.join(self.save_dir, CHECKPOINT_DIR)))
        with self.strategy.scope():
            self.model = build_srs(c.model, load_inception_weights=not resuming)
            self.encoder = self.model.get_layer("sticker_encoder")
            self.matcher = self.model.get_layer("matcher")
            optimizer = keras.optimizers.Adam(self._learning_rate())
            if c.mixed_precision:
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            self.optimizer = optimizer
            self.optimizer.build(
                self.encoder.trainable_variables + self.matcher.trainable_variables
            )
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
            self.best_map = tf.Variable(-1.0, dtype=tf.float64, trainable=False, name="best_map")
        self.checkpoint = tf.train.Checkpoint(
            encoder=self.encoder,
            matcher=self.matcher,
            optimizer=self.optimizer,
            step=self.step,
            best_map=self.best_map,
        )
        self.manager = tf.train.CheckpointManager(
            self.checkpoint,
            os.path.join(self.save_dir, CHECKPOINT_DIR),
            max_to_keep=c.max_checkpoints,
        )
        self.best_checkpoint = tf.train.Checkpoint(
            encoder=self.encoder, matcher=self.matcher, step=self.step
        )
        self.best_manager = tf.train.CheckpointManager(
            self.best_checkpoint, os.path.join(self.save_dir, BEST_CHECKPOINT_DIR), max_to_keep=1
        )
        self.writer = (
            tf.summary.create_file_writer(os.path.join(c.model_dir, "logs"))
            if self.chief
            else tf.summary.create_noop_writer()
        )

    def restore_best(self) -> int:
        """Restores the best checkpoint by validation MAP (or the newest one
        when no validation ran); returns its step."""
        self.best_checkpoint.restore(checkpoint_to_restore(self.save_dir)).expect_partial()
        return int(self.step.numpy())

    def restore(self) -> int:
        """Restores the newest checkpoint of the run, if any; returns its step."""
        latest = self.manager.latest_checkpoint
        if latest:
            self.checkpoint.restore(latest).assert_existing_objects_matched()
            self._log(f"resumed from {latest} at step {int(self.step.numpy())}")
        return int(self.step.numpy())

    # ----------------------------------------------------------- forward pass
    def candidate_features(self, batch, training):
        """(regions, flat, emoji_logits or None) for a batch, from the cache
        in frozen mode, else by running the encoder."""
        return scoring.candidate_features(self.encoder, batch, self.frozen_features, training)

    def forward(self, batch, training):
        return scoring.forward(self.encoder, self.matcher, batch, self.frozen_features, training)

    # ---------------------------------------------------------------- steps
    def _apply(self, tape, loss, variables):
        scaled = self.optimizer.scale_loss(loss) if hasattr(self.optimizer, "scale_loss") else loss
        grads = tape.gradient(scaled, variables)
        # Variables outside the loss (the emoji head under no_classify) get None.
        pairs = [(g, v) for g, v in zip(grads, variables) if g is not None]
        self.optimizer.apply([g for g, _ in pairs], [v for _, v in pairs])

    def warmup_step(self, images, emoji):
        """One emoji warm-up step on uint8 stickers ``[N, S, S, 3]`` and their
        emoji ids ``[N]`` (only L_s, only the sticker encoder); returns L_s."""
        from srs_tf.model.losses import emoji_loss

        def replica_fn(images, emoji):
            with tf.GradientTape() as tape:
                out = self.encoder(images, training=True)
                loss = emoji_loss(out["emoji_logits"][:, None, :], emoji[:, None])
                scaled = loss / self.strategy.num_replicas_in_sync
            self._apply(tape, scaled, self.encoder.trainable_variables)
            return loss

        per_replica = self.strategy.run(replica_fn, args=(images, emoji))
        return self.strategy.reduce(tf.distribute.ReduceOp.MEAN, per_replica, axis=None)

    def joint_step(self, batch):
        """One training step of L_r (+ L_s when the encoder trains) on a batch
        of ``train_batches``; returns ``(L_r, L_s)``. Wrap it in tf.function."""
        from srs_tf.model.losses import emoji_loss, hinge_loss
        from srs_tf.model_config import uses_emoji_loss

        c = self.config
        use_emoji = uses_emoji_loss(c.model) and self.frozen_features is None
        variables = list(self.matcher.trainable_variables)
        if self.frozen_features is None:
            variables = list(self.encoder.trainable_variables) + variables

        def replica_fn(batch):
            with tf.GradientTape() as tape:
                out, emoji_logits = self.forward(batch, training=True)
                l_r = hinge_loss(tf.cast(out["scores"], tf.float32), batch["label"], c.model.margin)
                l_s = (
                    emoji_loss(tf.cast(emoji_logits, tf.float32), batch["candidate_emoji"])
                    if use_emoji
                    else tf.constant(0.0)
                )
                total = l_r + l_s
                scaled = total / self.strategy.num_replicas_in_sync
            self._apply(tape, scaled, variables)
            return l_r, l_s

        l_r, l_s = self.strategy.run(replica_fn, args=(batch,))
        mean = tf.distribute.ReduceOp.MEAN
        return (
            self.strategy.reduce(mean, l_r, axis=None),
            self.strategy.reduce(mean, l_s, axis=None),
        )

    # ----------------------------------------------------------------- data
    def _warmup_batches(self, seed: int) -> Iterator:
        """Random bank stickers with a known emoji, `warmup_batch_size` a batch."""
        known = np.flatnonzero(np.asarray(self.bank.emoji_id) >= 2)
        if known.size == 0:
            raise ValueError(
                f"{self.config.data_dir}: no sticker in the bank has a known emoji; "
                "train with --ablation=no_classify or --emoji_warmup_steps=0"
            )
        rng = np.random.default_rng(seed)
        size = self.config.warmup_batch_size
        emoji_ids = np.asarray(self.bank.emoji_id, dtype=np.int32)

        def gen():
            while True:
                idx = np.sort(rng.choice(known, size=size, replace=known.size < size))
                yield self.bank.images[idx], emoji_ids[idx]

        spec = (
            tf.TensorSpec([size] + list(self.bank.images.shape[1:]), tf.uint8),
            tf.TensorSpec([size], tf.int32),
        )
        ds = tf.data.Dataset.from_generator(gen, output_signature=spec).prefetch(2)
        return iter(self.strategy.experimental_distribute_dataset(ds))

    def train_batches(self, seed: int) -> Iterator:
        """The endless, shuffled training batches that ``joint_step`` takes."""
        from srs_tf.data import pipeline

        ds = pipeline.make_dataset(
            self.config.data_dir,
            "train",
            batch_size=self.config.batch_size,
            training=True,
            seed=seed,
            negatives=self.config.negatives,
            with_images=self.config.sticker_encoder == "finetune",
            repeat=True,
            drop_remainder=True,
            bank=self.bank,
            meta=self.meta,
            context_turns=self.config.model.context_len,
        )
        return iter(self.strategy.experimental_distribute_dataset(ds))

    # ------------------------------------------------------------ the loop
    def encode_bank(self, batch_size: int = 64):
        """Encodes every bank sticker once (frozen mode): (regions, flat)."""
        progress = self._progress("encode bank", len(self.bank), "stickers", every_s=10.0)
        features = scoring.encode_bank(self.encoder, self.bank.images, batch_size, progress.set)
        progress.close()
        return features

    def set_feature_statistics(self, regions, flat) -> None:
        """Frozen mode: standardise the cached features per channel inside the
        matcher (`StickerFeatureNormalization`; identity otherwise)."""
        present = {layer.name for layer in self.matcher.layers}
        for name, features in (("region_normalization", regions), ("flat_normalization", flat)):
            if name not in present:  # a baseline that never reads this input (e.g. SMN: O_flat)
                continue
            mean, std = channel_moments(features)
            self.matcher.get_layer(name).set_statistics(mean, std)

    def train(self) -> dict:
        """Runs (or resumes) the whole schedule; returns the final summary."""
        try:
            return self._train()
        finally:
            if not self.chief:  # a non-chief worker's scratch copy is never kept
                shutil.rmtree(self.save_dir, ignore_errors=True)

    def _train(self) -> dict:
        c = self.config
        start_step = self.restore()
        warmup = c.warmup_steps
        self._log(
            f"training {c.model.ablation} ({c.sticker_encoder} encoder): "
            f"{warmup} warm-up + {self.joint_steps} joint steps, "
            f"{self.steps_per_epoch} steps per epoch, batch {c.batch_size}"
        )
        data_seed = c.seed + 7919 * start_step
        step = start_step
        fresh = start_step <= warmup  # BN statistics not yet final in a checkpoint
        if step < warmup:
            if c.sticker_encoder == "upper":
                step = self._run_upper_warmup(step, warmup, data_seed)
            else:
                step = self._run_warmup(step, warmup, data_seed)
        if step >= warmup and c.sticker_encoder in ("frozen", "upper"):
            if self._given_features is not None:
                self._log("using the given sticker features (frozen sticker encoder)")
                self.frozen_features = self._given_features
            elif c.sticker_encoder == "upper":
                # Without a warm-up (no_classify, --emoji_warmup_steps=0) the
                # lower blocks were never calibrated nor cached.
                self.frozen_features = self._encode_bank_upper(
                    calibrate=fresh, calibrate_lower=fresh and warmup == 0
                )
            else:
                if fresh and self._needs_calibration():
                    self.calibrate_batch_norm()
                self._log("encoding the sticker bank once (frozen sticker encoder)")
                self.frozen_features = self.encode_bank()
            if fresh:  # a resumed run restored its statistics
                self.set_feature_statistics(*self.frozen_features)
                self._log_emoji_share(self.frozen_features[1])
        if step < self.total_steps:
            step = self._run_joint(step, data_seed)
        metrics = self.validate(step, write=True)
        self._save(force=True)
        summary = {
            "step": step,
            "val": metrics,
            "best_val_MAP": float(self.best_map.numpy()),
            "config": c.to_dict(),
        }
        if self.chief:
            atomic.write_json(os.path.join(c.model_dir, "train_summary.json"), summary)
        return summary

    def _log_emoji_share(self, flat) -> None:
        """Logs how much of the standardised O_flat the emoji labels explain
        (`srs_tf.training.feature_share`; the matcher's speed depends on it)."""
        if not (self.verbose and self.chief):
            return
        emoji = np.asarray(self.bank.emoji_id)
        known = np.flatnonzero(emoji >= 2)
        if known.size < 2 or np.unique(emoji[known]).size < 2:
            return
        rows = flat if known.size == emoji.size else tf.gather(flat, known)
        share = label_variance_share(rows, emoji[known])
        self._log(
            f"the emoji labels explain {share:.0%} of the standardised O_flat variance "
            "(docs/RESULTS.md, 'What the matcher needs from O_flat')"
        )

    # ------------------------------------------- batch norm and the upper mode
    @property
    def inception(self):
        """The StickerEncoder layer (Inception-v3 + emoji head)."""
        return self.encoder.get_layer("inception_sticker_encoder")

    def _needs_calibration(self) -> bool:
        """A random-init backbone's BN has never seen data (docs/FIDELITY.md)."""
        return not self.inception.freeze_batch_norm

    def calibrate_batch_norm(self, num_batches: int = 8, batch_size: int = 64) -> None:
        """Sets every Inception BN layer's moving statistics from bank stickers."""
        from srs_tf.training import upper_blocks

        layers = upper_blocks.batch_norm_layers(self.inception.backbone)
        rows = upper_blocks.calibration_batches(
            len(self.bank), batch_size, num_batches, self.config.seed
        )
        start = time.time()
        n = upper_blocks.calibrate_batch_norm(
            layers, lambda r: self.inception(tf.constant(self.bank.images[r]), training=True), rows
        )
        self._log(
            f"calibrated {len(layers)} batch-norm layers on {n} batches of "
            f"{batch_size} bank stickers ({time.time() - start:.0f}s)"
        )

    def upper_parts(self):
        """(lower, upper) Keras models of the `upper` mode, built once."""
        if getattr(self, "_upper_parts", None) is None:
            cut = self.config.upper_from
            self._upper_parts = (self.inception.lower_blocks(cut), self.inception.upper_blocks(cut))
        return self._upper_parts

    def lower_cache(self, calibrate: bool) -> np.ndarray:
        """Lower-block activations of every bank sticker (built or reused)."""
        from srs_tf.training import upper_blocks

        if calibrate and self._needs_calibration():
            self.calibrate_batch_norm()
        lower, _ = self.upper_parts()
        expected = upper_blocks.cache_key(self.config.upper_from, self.bank, lower)
        cache = upper_blocks.LowerCache(self.save_dir)
        activations = cache.load(expected)
        if activations is None:
            self._log(
                f"caching the lower Inception blocks (up to {self.config.upper_from}) "
                f"for {len(self.bank)} stickers"
            )
            activations = cache.build(lower, self.bank.images, expected, log=self._log)
        else:
            self._log(f"reusing the lower-block cache {cache.path}")
        return activations

    def upper_warmup_step(self, activations, emoji):
        """One warm-up step of the upper blocks on cached lower-block
        activations and emoji ids; returns L_s."""
        from srs_tf.model.losses import emoji_loss

        _, upper = self.upper_parts()
        training = not self.inception.freeze_batch_norm

        def replica_fn(activations, emoji):
            with tf.GradientTape() as tape:
                _, _, logits = upper(activations, training=training)
                loss = emoji_loss(logits[:, None, :], emoji[:, None])
                scaled = loss / self.strategy.num_replicas_in_sync
            self._apply(tape, scaled, upper.trainable_variables)
            return loss

        per_replica = self.strategy.run(replica_fn, args=(activations, emoji))
        return self.strategy.reduce(tf.distribute.ReduceOp.MEAN, per_replica, axis=None)

    def _run_upper_warmup(self, step: int, warmup: int, seed: int) -> int:
        """Stage 1 of the `upper` mode: L_s on cached lower activations."""
        c = self.config
        activations = self.lower_cache(calibrate=step == 0)
        known = np.flatnonzero(np.asarray(self.bank.emoji_id) >= 2)
        if known.size == 0:
            raise ValueError(
                f"{c.data_dir}: no sticker in the bank has a known emoji; "
                "train with --ablation=no_classify or --emoji_warmup_steps=0"
            )
        emoji_ids = np.asarray(self.bank.emoji_id, dtype=np.int32)
        rng = np.random.default_rng(seed)
        size = c.warmup_batch_size

        def batches():
            while True:
                idx = np.sort(rng.choice(known, size=size, replace=known.size < size))
                yield (
                    tf.constant(np.asarray(activations[idx], dtype=np.float32)),
                    tf.constant(emoji_ids[idx]),
                )

        return self._warmup_loop(
            step,
            warmup,
            "emoji warm-up (upper blocks)",
            batches(),
            tf.function(self.upper_warmup_step),
        )

    def _encode_bank_upper(
        self, calibrate: bool, calibrate_lower: bool = False, batch_size: int = 256
    ):
        """The bank through the trained upper blocks (after stage 1); with
        ``calibrate`` (random init) the upper BN statistics are first set on
        the cache, with ``calibrate_lower`` the whole backbone's before it."""
        from srs_tf.training import upper_blocks

        activations = self.lower_cache(calibrate=calibrate_lower)
        _, upper = self.upper_parts()
        if calibrate and self._needs_calibration():
            layers = upper_blocks.batch_norm_layers(upper)
            rows = upper_blocks.calibration_batches(len(self.bank), 256, 8, self.config.seed)
            upper_blocks.calibrate_batch_norm(
                layers,
                lambda r: upper(tf.constant(np.asarray(activations[r], np.float32)), training=True),
                rows,
            )
            self._log(f"calibrated the {len(layers)} batch-norm layers of the upper blocks")
        self._log("encoding the sticker bank through the trained upper blocks")
        return upper_blocks.encode_through_upper(upper, activations, batch_size)

    def _check_finite(self, step: int, **losses) -> None:
        for name, value in losses.items():
            if not np.isfinite(value):
                self._save_failed_marker(step, name, value)
                raise TrainingDiverged(
                    f"{name} is {value} at step {step}: training stopped. The last good checkpoint "
                    f"is {self.manager.latest_checkpoint}; lower --learning_rate or try --seed."
                )

    def _save_failed_marker(self, step, name, value):
        if self.chief:
            atomic.write_json(
                os.path.join(self.config.model_dir, "diverged.json"),
                {"step": int(step), "loss": name, "value": str(value)},
            )

    def _save(self, force: bool = False) -> None:
        self.manager.save(checkpoint_number=int(self.step.numpy()), check_interval=not force)

    def _run_warmup(self, step: int, warmup: int, seed: int) -> int:
        batches = self._warmup_batches(seed)
        return self._warmup_loop(
            step, warmup, "emoji warm-up", batches, tf.function(self.warmup_step)
        )

    def _warmup_loop(self, step: int, warmup: int, label: str, batches, step_fn) -> int:
        """Stage 1 up to step ``warmup``: ``step_fn(*next(batches))`` returns L_s."""
        c = self.config
        size = c.warmup_batch_size
        progress = self._progress(label, warmup * size, "stickers", start=step * size)
        while step < warmup:
            loss = float(step_fn(*next(batches)))
            step += 1
            self.step.assign(step)
            self._check_finite(step, emoji_loss=loss)
            if step % c.log_every == 0 or step == warmup:
                progress.set(step * size, f"step {step} L_s {loss:.4f}", force=True)
                rate = progress.last_rate
                with self.writer.as_default(step=step):
                    tf.summary.scalar("loss/emoji", loss)
                    tf.summary.scalar("stickers_per_sec", rate)
            if step % c.checkpoint_every == 0 or step == warmup:
                self._save(force=True)
        return step

    def _run_joint(self, step: int, seed: int) -> int:
        c = self.config
        warmup = c.warmup_steps
        batches = self.train_batches(seed)
        step_fn = tf.function(self.joint_step)
        eval_every = c.eval_every or self.steps_per_epoch
        progress = self._progress(
            "train",
            self.joint_steps * c.batch_size,
            "examples",
            start=max(0, step - warmup) * c.batch_size,
        )
        while step < self.total_steps:
            l_r, l_s = step_fn(next(batches))
            l_r, l_s = float(l_r), float(l_s)
            step += 1
            self.step.assign(step)
            self._check_finite(step, hinge_loss=l_r, emoji_loss=l_s)
            done = step - warmup
            if done % c.log_every == 0 or step == self.total_steps:
                progress.set(
                    done * c.batch_size, f"step {step} L_r {l_r:.4f} L_s {l_s:.4f}", force=True
                )
                rate = progress.last_rate
                with self.writer.as_default(step=step):
                    tf.summary.scalar("loss/hinge", l_r)
                    tf.summary.scalar("loss/emoji", l_s)
                    tf.summary.scalar("loss/total", l_r + l_s)
                    tf.summary.scalar("learning_rate", self._current_lr())
                    tf.summary.scalar("examples_per_sec", rate)
            if done % eval_every == 0 and step < self.total_steps:
                self.validate(step, write=True)
            if step % c.checkpoint_every == 0:
                self._save(force=True)
        return step

    def _current_lr(self) -> float:
        lr = self.optimizer.learning_rate
        return float(lr.numpy() if hasattr(lr, "numpy") else lr)

    # ------------------------------------------------------------ validation
    def score(self, split: str, max_examples: int = 0, batch_size: int | None = None) -> dict:
        """Scores a split's stored candidate lists (``scoring.score_dataset``).

        Returns numpy arrays: scores [N, C], label [N], num_turns [N],
        candidate_ids [N, C], plus the first batch's images and attention (for
        heat-map summaries).
        """
        cached = self.frozen_features is not None
        # With cached features the images are only needed for the heat-maps of
        # the first batch, so they are not gathered for every example.
        ds = scoring.split_dataset(
            self.config,
            split,
            self.bank,
            self.meta,
            batch_size or self.config.batch_size,
            with_images=not cached,
            max_examples=max_examples,
        )
        return scoring.score_dataset(
            self.encoder, self.matcher, ds, self.frozen_features, self.bank
        )

    def validate(self, step: int, write: bool = True) -> dict:
        from srs_tf.evaluation.metrics import compute_metrics

        result = self.score("val", self.config.eval_examples)
        labels = np.eye(result["scores"].shape[1], dtype=np.int32)[result["label"]]
        metrics = {
            k: float(v)
            for k, v in compute_metrics(result["scores"], labels).items()
            if np.isscalar(v)
        }
        self._log(
            f"[validation] step {step}: " + " ".join(f"{k} {v:.4f}" for k, v in metrics.items())
        )
        if write:
            with self.writer.as_default(step=step):
                for k, v in metrics.items():
                    tf.summary.scalar(f"val/{k}", v)
                _heatmap_summary(result["first_batch"])
            if metrics["MAP"] > float(self.best_map.numpy()):
                self.best_map.assign(metrics["MAP"])
                self.best_manager.save(checkpoint_number=step)
                if self.chief:
                    atomic.write_json(
                        os.path.join(self.config.model_dir, "best.json"),
                        {"step": int(step), "val": metrics},
                    )
        return metrics


def _heatmap_summary(first_batch: dict, max_outputs: int = 6) -> None:
    """Figure 8 as an image summary: τs over the ground-truth sticker."""
    from srs_tf.visualize import mean_over_turns, overlay_attention

    if not first_batch:
        return
    images = []
    for i in range(min(max_outputs, len(first_batch["label"]))):
        gt = int(first_batch["label"][i])
        attention = mean_over_turns(
            first_batch["sticker_attention"][i, gt], first_batch["num_turns"][i]
        )
        images.append(overlay_attention(first_batch["candidates"][i, gt], attention))
    tf.summary.image("sticker_attention", np.stack(images), max_outputs=max_outputs)
