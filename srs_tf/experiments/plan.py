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
REFERENCE = "SRS"  # every other row of a table is t-tested against this one
# Table 2's no_pretrain starts Inception-v3 from random weights. Where every row
# already does (``--inception_weights=none`` among the flags: the smoke scale, or
# the demo scale without Keras' ImageNet file), it is the SRS row again, trained
# twice for nothing, and the plan leaves it out.
NO_PRETRAIN_ROW = "SRS w/o pretrain"
NO_PRETRAIN_NOTE = (
    f"{NO_PRETRAIN_ROW} is not run: every row here starts Inception-v3 from random "
    "weights (--inception_weights=none), so it would be the SRS row again"
)


def random_init(flags: tuple[str, ...]) -> bool:
    """Whether bin/train ``flags`` start Inception-v3 from random weights (the
    last ``--inception_weights`` wins, as in bin/train)."""
    chosen = [f for f in flags if f.startswith("--inception_weights=")]
    return bool(chosen) and chosen[-1] == "--inception_weights=none"


# Figure 7 (RQ3): utterances read, N (the paper: 3 to 20); each N is trained and
# evaluated reading the last N utterances (bin/train --context_turns=N).
FIGURE7_TURNS = {
    "smoke": (2, 3, 5),
    "demo": (3, 5, 7, 9, 11, 13, 15, 17, 20),
    "paper": (3, 5, 7, 9, 11, 13, 15, 17, 20),
}
# Figure 11 (RQ6): the hidden size of the RNNs, CNN projections and dense layers.
FIGURE11_HIDDEN = {
    "smoke": (50, 100),
    "demo": (50, 100, 150, 200, 250),
    "paper": (50, 100, 150, 200, 250),
}
# The row of a figure that is the paper's own setting (15 utterances as the
# release code, hidden size 100 as §6.4): the other rows are t-tested against it.
FIGURE_REFERENCE = {"figure7": "N=15", "figure11": "hidden 100"}

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
      system: the row it belongs to (e.g. "SMN", "SRS w/o DIN", "N=5").
      seed: the training seed.
      train_flags: ``bin/train`` flags besides ``--data_dir``/``--model_dir``.
      eval_flags: ``bin/evaluate`` flags besides the data, run and split
        (Figure 10 needs the candidates' SSIM, the others skip it).
    """

    system: str
    seed: int
    train_flags: tuple[str, ...]
    eval_flags: tuple[str, ...] = ("--nossim",)

    @property
    def name(self) -> str:
        """The run's directory name: the system and seed, file-system safe."""
        slug = "".join(c if c.isalnum() else "_" for c in self.system.lower()).strip("_")
        return f"{slug}-seed{self.seed}"


def _table3_rows(scale: str) -> list[tuple[str, tuple[str, ...]]]:
    return [(SYSTEM_NAMES[m], (f"--model={m}",)) for m in SYSTEM_NAMES]


# The curves (Figures 7 and 11): the row name of each x value, and the x axis.
CURVE_ROW = {"figure7": "N={}", "figure11": "hidden {}"}
CURVE_AXIS = {"figure7": "utterances read (N)", "figure11": "hidden size"}


def curve_x(name: str, system: str) -> int:
    """The x value of a curve's row (``curve_x("figure7", "N=5") == 5``)."""
    prefix, suffix = CURVE_ROW[name].split("{}")
    if not (system.startswith(prefix) and system.endswith(suffix)):
        raise ValueError(f"{system!r} is not a row of {name} ({CURVE_ROW[name]!r})")
    return int(system[len(prefix) : len(system) - len(suffix)])


def _figure7_rows(scale: str) -> list[tuple[str, tuple[str, ...]]]:
    row = CURVE_ROW["figure7"]
    return [(row.format(n), (f"--context_turns={n}",)) for n in FIGURE7_TURNS[scale]]


def _figure11_rows(scale: str) -> list[tuple[str, tuple[str, ...]]]:
    row = CURVE_ROW["figure11"]
    return [(row.format(h), (f"--hidden_dim={h}",)) for h in FIGURE11_HIDDEN[scale]]


# name -> rows at a scale: (display name, bin/train flags of the row).
EXPERIMENTS = {
    "table3": _table3_rows,
    "table4": lambda scale: list(ABLATION_ROWS),
    "figure7": _figure7_rows,
    "figure8": lambda scale: [("SRS", ())],
    "figure10": lambda scale: [("SRS", ())],
    "figure11": _figure11_rows,
}
# Figure 8 draws the attention of one trained SRS: one seed is enough.
ONE_SEED = ("figure8",)
# bin/evaluate flags per experiment (default: no SSIM, it takes minutes).
EVAL_FLAGS = {"figure10": ("--ssim",)}


def reference_row(name: str, scale: str) -> str | None:
    """The row the others are t-tested against (None: no test)."""
    if name in FIGURE_REFERENCE:
        rows = [row for row, _ in EXPERIMENTS[name](scale)]
        wanted = FIGURE_REFERENCE[name]
        if wanted in rows:
            return wanted
        return rows[-1] if name == "figure7" else None  # smoke: the longest context read
    return REFERENCE if name in ("table3", "table4") else None


def context_len_needed(name: str, scale: str) -> int:
    """Utterances the TFRecords must store for experiment ``name`` (0: any)."""
    return max(FIGURE7_TURNS[scale]) if name == "figure7" else 0


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
        Table 4 leaves out ``NO_PRETRAIN_ROW`` where they (or the scale's
        flags) start Inception-v3 from random weights.

    Raises:
      ValueError: an unknown name, scale or system.
    """
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}: choose one of {', '.join(EXPERIMENTS)}")
    if scale not in SCALES:
        raise ValueError(f"unknown --scale={scale!r}: choose one of {', '.join(SCALES)}")
    rows = EXPERIMENTS[name](scale)
    base = SCALE_TRAIN_FLAGS[scale]
    if name == "table4" and random_init(base + tuple(extra_flags)):
        rows = [(row, flags) for row, flags in rows if row != NO_PRETRAIN_ROW]
        if systems and NO_PRETRAIN_ROW in systems:
            raise ValueError(NO_PRETRAIN_NOTE)
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
    if name in ONE_SEED:
        seeds = seeds[:1]
    eval_flags = EVAL_FLAGS.get(name, RunSpec.eval_flags)
    return [
        RunSpec(row, seed, base + flags + (f"--seed={seed}",) + tuple(extra_flags), eval_flags)
        for row, flags in rows
        for seed in seeds
    ]


assert set(SYSTEM_NAMES) == set(ARCHITECTURES)
