"""Parameter counts of SRS (or a Table 3 baseline) per component.

    python -m srs_tf.model.summary                       # paper sizes
    python -m srs_tf.model.summary --vocab_size=50000 --emoji_vocab_size=300
    python -m srs_tf.model.summary --ablation=no_din
    python -m srs_tf.model.summary --model=dam       # a baseline (docs/BASELINES.md)

Builds the model with random weights (nothing is downloaded or read) and
prints one line per component: trainable and non-trainable (batch-norm
moving statistics) parameters.
"""

from __future__ import annotations

import argparse
import dataclasses

from srs_tf.model_config import ABLATIONS, ARCHITECTURES, SRSConfig


def _count(weights) -> int:
    total = 0
    for weight in weights:
        size = 1
        for dim in weight.shape:
            size *= int(dim)
        total += size
    return total


def component_parameters(config: SRSConfig) -> list[tuple[str, int, int]]:
    """``[(component, trainable, non_trainable), ...]`` for ``build_srs(config)``."""
    from srs_tf.model.srs import build_srs

    config = dataclasses.replace(config, inception_weights="none")
    model = build_srs(config)
    encoder = model.get_layer("sticker_encoder").get_layer("inception_sticker_encoder")
    matcher = model.get_layer("matcher")
    sticker_parts = [
        ("sticker encoder: Inception-v3 (eq. 1)", encoder.backbone),
        ("sticker encoder: emoji classifier", encoder.emoji_classifier),
    ]
    if config.architecture != "srs":  # a baseline: one row per layer of its matcher
        parts = sticker_parts + [
            (f"{config.architecture}: {layer.name}", layer)
            for layer in matcher.layers
            if layer.weights and not layer.name.endswith("_normalization")
        ]
        return _rows(parts, model)
    utterance = matcher.get_layer("utterance_encoder")
    interaction = matcher.get_layer("deep_interaction")
    fusion = matcher.get_layer("fusion_network")

    parts = sticker_parts + [
        ("utterance encoder: word embedding", utterance.embedding),
        ("utterance encoder: attentive module (eq. 2-6)", utterance.attentive),
        ("deep interaction network (eq. 7-11)", interaction),
    ]
    if fusion.use_fusion_rnn:
        parts.append(("fusion RNN (eq. 12)", fusion.fusion_rnn))
    parts.append(("fusion Transformer (eq. 13)", fusion.fusion_transformer))
    if fusion.use_fusion_rnn:
        parts.append(("SUBMULTI (eq. 14)", fusion.submulti))
    parts.append(("prediction GRU (eq. 15)", fusion.prediction_rnn))
    parts.append(("score layer (eq. 16)", fusion.score_dense))
    return _rows(parts, model)


def _rows(parts, model) -> list[tuple[str, int, int]]:
    rows = [
        (name, _count(layer.trainable_weights), _count(layer.non_trainable_weights))
        for name, layer in parts
    ]
    rows.append(("total", _count(model.trainable_weights), _count(model.non_trainable_weights)))
    return rows


def format_table(rows: list[tuple[str, int, int]]) -> str:
    width = max(len(name) for name, _, _ in rows)
    lines = [f"{'component':<{width}}  {'trainable':>12}  {'non-trainable':>13}"]
    for name, trainable, frozen in rows:
        lines.append(f"{name:<{width}}  {trainable:>12,}  {frozen:>13,}")
    return "\n".join(lines)


def main(argv=None) -> None:
    defaults = SRSConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for field in (
        "vocab_size",
        "emoji_vocab_size",
        "emb_dim",
        "hidden_dim",
        "context_len",
        "max_words",
        "image_size",
    ):
        parser.add_argument(f"--{field}", type=int, default=getattr(defaults, field))
    parser.add_argument("--ablation", choices=ABLATIONS, default=defaults.ablation)
    parser.add_argument(
        "--model", dest="architecture", choices=ARCHITECTURES, default=defaults.architecture
    )
    args = parser.parse_args(argv)
    config = dataclasses.replace(defaults, **vars(args))
    print(
        f"{config.architecture.upper()} parameters: vocab {config.vocab_size}, "
        f"emoji {config.emoji_vocab_size}, "
        f"emb {config.emb_dim}, hidden {config.hidden_dim}, image {config.image_size} px, "
        f"ablation {config.ablation}"
    )
    print(format_table(component_parameters(config)))


if __name__ == "__main__":
    main()
