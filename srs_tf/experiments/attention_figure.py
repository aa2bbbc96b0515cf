"""Figure 8 and 9 of the paper (RQ4) from a trained run.

For a few test examples: the context with each word shaded by its
attention weight τu (eq. 8) for the selected sticker (Figure 9), and the
selected sticker beside three other candidates drawn at random, each with
its sticker attention τs (eq. 9, averaged over the real turns) as a
heat-map, lighter where attention is higher (Figure 8).

Examples are taken in test-file order; those the model ranks correctly
come first (the paper shows correct selections), then the others.
"""

from __future__ import annotations

import os

import numpy as np

from srs_tf import visualize

CANDIDATES_SHOWN = 4  # the selected sticker and three random others (Figure 8)
# Fonts that draw Chinese (the StickerChat and demo utterances), first found wins.
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "SimHei",
    "Microsoft YaHei",
)


def attention_examples(run_dir: str, num_examples: int = 3, seed: int = 0) -> list[dict]:
    """Scores the first test batch of a run and picks ``num_examples``.

    Returns per example: ``index`` (test position), ``utterances`` (words per
    real turn), ``word_attention`` (weights per word and turn, for the
    selected sticker), ``stickers`` (uint8 images, selected first),
    ``sticker_attention`` ([R] per sticker, mean over real turns),
    ``word_ids``, ``candidates`` (positions in the list), ``scores``, ``label`` (position
    of the ground truth), ``selected``, ``gt_rank`` (1 = ranked first).
    """
    from srs_tf.data import pipeline
    from srs_tf.data.vocab import Vocab
    from srs_tf.evaluation import metrics, scoring
    from srs_tf.restore import restore_model

    model, config, _ = restore_model(run_dir)
    meta = pipeline.load_meta(config.data_dir)
    bank = pipeline.load_sticker_bank(config.data_dir)
    vocab = Vocab.load(os.path.join(config.data_dir, "vocab"))
    ds = scoring.split_dataset(config, "test", bank, meta, 32, with_images=True, max_examples=32)
    batch = next(iter(ds))
    out = model({k: batch[k] for k in ("context_ids", "num_turns", "candidates")}, training=False)
    scores = out["scores"].numpy()
    s_att = out["sticker_attention"].numpy()  # [B, C, T, R]
    w_att = out["word_attention"].numpy()  # [B, C, T, L]
    labels = batch["label"].numpy()
    ids, turns = batch["context_ids"].numpy(), batch["num_turns"].numpy()
    images = batch["candidates"].numpy()
    selected = scores.argmax(-1)
    # The evaluation's own rank (ties count against the ground truth).
    rank = metrics.ground_truth_rank(scores, metrics.as_one_hot(labels, scores.shape[1]))
    order = sorted(range(len(labels)), key=lambda i: (rank[i] != 1, i))
    rng = np.random.default_rng(seed)
    examples = []
    for i in order[:num_examples]:
        n, sel = int(turns[i]), int(selected[i])
        others = [c for c in range(scores.shape[1]) if c != sel]
        shown = [sel] + [int(c) for c in rng.choice(others, CANDIDATES_SHOWN - 1, replace=False)]
        utterances, word_ids, weights = [], [], []
        for t in range(n):
            length = int((ids[i, t] != 0).sum())
            word_ids.append(ids[i, t, :length].tolist())
            utterances.append(vocab.decode(word_ids[-1]))
            weights.append(w_att[i, sel, t, :length].tolist())
        examples.append(
            {
                "index": int(i),
                "utterances": utterances,
                "word_ids": word_ids,
                "word_attention": weights,
                "stickers": [images[i, c] for c in shown],
                "sticker_attention": [
                    visualize.mean_over_turns(s_att[i, c], n).tolist() for c in shown
                ],
                "candidates": shown,
                "scores": [float(scores[i, c]) for c in shown],
                "label": int(labels[i]),
                "selected": sel,
                "gt_rank": int(rank[i]),
            }
        )
    return examples


def draw(path: str, examples: list[dict], title: str) -> None:
    """Writes the Figure 8/9 layout: per example a row of the four stickers
    with their heat-maps, the context with its word attention above them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    font = cjk_font()
    families = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    with plt.rc_context({"font.family": families}):
        _draw(plt, path, examples, title, font)


def _draw(plt, path: str, examples: list[dict], title: str, font: str | None) -> None:
    from srs_tf import atomic

    rows = len(examples)
    fig = plt.figure(figsize=(10, 3.6 * rows))
    grid = fig.add_gridspec(rows, 2, width_ratios=[1.2, 2.0])
    for r, ex in enumerate(examples):
        text_ax = fig.add_subplot(grid[r, 0])
        text_ax.axis("off")
        _draw_context(fig, text_ax, ex, ids_for_cjk=font is None)
        sub = grid[r, 1].subgridspec(1, CANDIDATES_SHOWN)
        for k, (image, attention, c, score) in enumerate(
            zip(ex["stickers"], ex["sticker_attention"], ex["candidates"], ex["scores"])
        ):
            ax = fig.add_subplot(sub[0, k])
            ax.imshow(visualize.overlay_attention(np.asarray(image, np.uint8), attention))
            ax.set_xticks([])
            ax.set_yticks([])
            role = "selected" if k == 0 else "random"
            truth = " (ground truth)" if c == ex["label"] else ""
            ax.set_title(f"{role}{truth}\nscore {score:.3f}", fontsize=8)
    if font is None and any(_is_cjk(w) for ex in examples for u in ex["utterances"] for w in u):
        title += (
            "\n(no CJK font on this machine: Chinese words drawn as #vocabulary id; "
            "table.md lists them)"
        )
    fig.suptitle(title, fontsize=10)
    with atomic.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def cjk_font() -> str | None:
    """The name of an installed font that draws Chinese, or None."""
    from matplotlib import font_manager

    for name in CJK_FONTS:
        try:
            font_manager.findfont(name, fallback_to_default=False)
            return name
        except ValueError:
            continue
    return None


def _is_cjk(word: str) -> bool:
    return any(ord(ch) >= 0x2E80 for ch in word)


def _draw_context(fig, ax, example: dict, ids_for_cjk: bool) -> None:
    """Words left to right, one utterance per line, shaded by τu (Figure 9)."""
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    renderer = fig.canvas.get_renderer()
    to_axes = ax.transAxes.inverted()
    lines = len(example["utterances"]) + 1
    ax.text(
        0,
        1,
        f"test example {example['index']}: ground truth ranked {example['gt_rank']}",
        fontsize=8,
        va="top",
    )
    rows = zip(example["utterances"], example["word_ids"], example["word_attention"])
    for t, (words, ids, weights) in enumerate(rows):
        y = 1 - (t + 1) / lines
        top = max(weights) if weights and max(weights) > 0 else 1.0
        ax.text(0, y, f"{t + 1}.", fontsize=8, va="top")
        x = 0.07
        for word, word_id, w in zip(words, ids, weights):
            label = f"#{word_id}" if ids_for_cjk and _is_cjk(word) else word
            shown = ax.text(
                x,
                y,
                label,
                fontsize=8,
                va="top",
                bbox={"facecolor": (1.0, 0.2, 0.2, 0.85 * w / top), "edgecolor": "none", "pad": 1},
            )
            box = to_axes.transform(shown.get_window_extent(renderer))
            x = box[1][0] + 0.015
            if x > 0.97:  # a long utterance is cut at the panel's edge
                break


def table_lines(examples: list[dict]) -> list[str]:
    """One markdown row per drawn example: where the ground truth ranked,
    the most attended word of the last utterance, and how concentrated the
    selected sticker's attention is (its largest weight over uniform)."""
    lines = [
        "| test example | turns | ground truth rank | selected is ground truth | "
        "top word of the last utterance | selected sticker: max τs × regions | "
        "last utterance (word τu) |",
        "|---|---|---|---|---|---|---|",
    ]
    for ex in examples:
        words, weights = ex["utterances"][-1], ex["word_attention"][-1]
        top_word = words[int(np.argmax(weights))] if words else "–"
        attention = np.asarray(ex["sticker_attention"][0])
        peak = float(attention.max() * attention.size)
        lines.append(
            f"| {ex['index']} | {len(ex['utterances'])} | {ex['gt_rank']} | "
            f"{'yes' if ex['selected'] == ex['label'] else 'no'} | {top_word} | {peak:.2f} | "
            + " ".join(f"{word} {w:.2f}" for word, w in zip(words, weights))
            + " |"
        )
    return lines
