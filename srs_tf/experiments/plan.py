"""Which runs an experiment needs at a scale (docs/EXPERIMENTS.md).

An experiment is a list of ``RunSpec``: one system (SRS, an ablation, a
baseline) trained with one seed. Scales fix the data and the training
flags:

* ``smoke``: a tiny generated demo build and a few training steps
  (seconds per run; the test suite runs every experiment at this scale);
* ``demo``: the default open demo benchmark with ``--preset=cpu`` (what
  ``make demo`` trains), 3 seeds;
* ``paper``: the StickerChat release (``--data_dir`` = its TFREC
  directory) with ``--preset=paper``, 3 seeds.
"""

from __future__ import annotations

import dataclasses

from srs_tf.model_config import ARCHITECTURES

SCALES = ("smoke", "demo", "paper")

# Display names, in Table 3's order (VQA methods, then response selection).
SYSTEM_NAMES = {
    "synergistic": "Synergistic",
    "psac": "PSAC",
    "smn": "SMN",
    "dam": "DAM",
    "mrfn": "MRFN",
    "srs": "SRS",
}
# Table 4's rows: (display name, bin/train flags).
ABLATION_ROWS = (
    ("SRS w/o pretrain", ("--ablation=no_pretrain",)),
    ("SRS w/o Classify", ("--ablation=no_classify",)),
    ("SRS w/o DIN", ("--ablation=no_din",)),
    ("SRS w/o FR", ("--ablation=no_fr",)),
    ("SRS", ()),
)
REFERENCE = "SRS"  # every other row is t-tested against this one

# bin/train flags of each scale (explicit flags given to the runner come after
# them and win, as in bin/train).
SCALE_TRAIN_FLAGS = {
    "smoke": (
        "--inception_weights=none",
        "--sticker_encoder=frozen",
        "--emoji_warmup_steps=0",
        "--train_steps=2",
        "--batch_size=4",
        "--hidden_dim=8",
        "--emb_dim=8",
        "--eval_every=0",
        "--log_every=1",
    ),
    "demo": ("--preset=cpu",),
    "paper": ("--preset=paper",),
}
SCALE_SEEDS = {"smoke": (1,), "demo": (1, 2, 3), "paper": (1, 2, 3)}


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One training run of an experiment.

    Attributes:
      system: the row it belongs to (e.g. "SMN", "SRS w/o DIN").
      seed: the training seed.
      train_flags: ``bin/train`` flags besides ``--data_dir``/``--model_dir``.
    """

    system: str
    seed: int
    train_flags: tuple[str, ...]

    @property
    def name(self) -> str:
        """The run's directory name: the system and seed, file-system safe."""
        slug = "".join(c if c.isalnum() else "_" for c in self.system.lower()).strip("_")
        return f"{slug}-seed{self.seed}"


def _table3_rows() -> list[tuple[str, tuple[str, ...]]]:
    return [(SYSTEM_NAMES[m], (f"--model={m}",)) for m in SYSTEM_NAMES]


EXPERIMENTS = {
    "table3": _table3_rows,
    "table4": lambda: list(ABLATION_ROWS),
}


def plan(
    name: str,
    scale: str,
    seeds: tuple[int, ...] | None = None,
    systems: tuple[str, ...] | None = None,
    extra_flags: tuple[str, ...] = (),
) -> list[RunSpec]:
    """The runs of experiment ``name`` at ``scale``.

    Args:
      name: a key of ``EXPERIMENTS``.
      scale: one of ``SCALES``.
      seeds: default ``SCALE_SEEDS[scale]``.
      systems: keep only these rows (display names or, for Table 3, model
        names such as ``dam``); default all.
      extra_flags: ``bin/train`` flags appended to every run (they win).

    Raises:
      ValueError: an unknown name, scale or system.
    """
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}: choose one of {', '.join(EXPERIMENTS)}")
    if scale not in SCALES:
        raise ValueError(f"unknown --scale={scale!r}: choose one of {', '.join(SCALES)}")
    rows = EXPERIMENTS[name]()
    if systems:
        wanted = {SYSTEM_NAMES.get(s, s) for s in systems}
        unknown = wanted - {row for row, _ in rows}
        if unknown:
            raise ValueError(
                f"{name} has no row {', '.join(sorted(unknown))}: rows are "
                + ", ".join(row for row, _ in rows)
            )
        rows = [(row, flags) for row, flags in rows if row in wanted]
    seeds = tuple(seeds) if seeds else SCALE_SEEDS[scale]
    base = SCALE_TRAIN_FLAGS[scale]
    return [
        RunSpec(row, seed, base + flags + (f"--seed={seed}",) + tuple(extra_flags))
        for row, flags in rows
        for seed in seeds
    ]


assert set(SYSTEM_NAMES) == set(ARCHITECTURES)
