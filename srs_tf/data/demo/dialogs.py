"""Chinese multi-turn group-chat contexts for the demo benchmark.

A context is a list of word-segmented turns from several users.  The
ground-truth sticker's meaning is cued by the wording of one turn (and
sometimes echoed in another), with noise:

* distractor turns: small talk from the word banks of :mod:`lexicon`;
* cue position: the last turn, the one before, or an older one;
* weak cues (one keyword inside small talk) and contexts with no cue;
* misleading cues: a turn cueing another meaning, mostly older than the
  real cue.

:func:`cue_oracle_scores` is the "read the cue, match the picture" strategy
used to calibrate these rates (see docs/DEMO_DATA.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from srs_tf.data.demo import lexicon


@dataclasses.dataclass(frozen=True)
class DialogConfig:
    min_turns: int = 3
    max_turns: int = 20
    turn_count_p: float = 0.74  # turns = min + Binomial(max - min, p)
    no_cue_fraction: float = 0.12
    weak_cue_fraction: float = 0.18
    misleading_fraction: float = 0.25
    misleading_older: float = 0.75  # P(misleading cue is older than the real one)
    echo_fraction: float = 0.2  # strong cue repeated in a second turn
    specific_fraction: float = 0.55  # strong cue names the picture itself
    cue_last: float = 0.55  # cue in the last turn
    cue_second_last: float = 0.2  # ... in the one before; else 2..6 back
    reply_fraction: float = 0.2  # context turns replying to an earlier one


@dataclasses.dataclass
class ChatGroup:
    """A public chat group: its member ids and how active each one is."""

    members: np.ndarray  # int64 user ids
    activity: np.ndarray  # probabilities


def make_chat_groups(
    rng: np.random.Generator, num_groups: int = 20, members: int = 150
) -> list[ChatGroup]:
    groups = []
    used = set()
    for _ in range(num_groups):
        ids = []
        while len(ids) < members:
            uid = int(rng.integers(10_000_000, 9_999_999_999))
            if uid not in used:
                used.add(uid)
                ids.append(uid)
        act = rng.pareto(1.2, size=members) + 0.05
        groups.append(ChatGroup(np.array(ids, np.int64), act / act.sum()))
    return groups


def _pick(rng: np.random.Generator, items: Sequence[str]) -> str:
    return items[int(rng.integers(len(items)))]


def small_talk(rng: np.random.Generator) -> str:
    u = rng.random()
    if u < 0.12:
        return _pick(rng, lexicon.FILLER)
    text = _fill(rng, _pick(rng, lexicon.TEMPLATES))
    if u > 0.64:
        text = join_clauses(text, _fill(rng, _pick(rng, lexicon.TEMPLATES)))
    return text


def join_clauses(a: str, b: str) -> str:
    """Joins two segmented clauses with a comma unless ``a`` ends a sentence."""
    if a.rsplit(" ", 1)[-1] in ("？", "！", "。", "！！", "～", "，"):
        return f"{a} {b}"
    return f"{a} ， {b}"


def _fill(rng: np.random.Generator, template: str) -> str:
    out = []
    for tok in template.split(" "):
        if tok.startswith("{") and tok.endswith("}"):
            word = _pick(rng, lexicon.SLOTS[tok[1:-1]])
            while word in out:  # no "学校 离 学校"
                word = _pick(rng, lexicon.SLOTS[tok[1:-1]])
            out.append(word)
        else:
            out.append(tok)
    return " ".join(out)


def strong_cue(rng: np.random.Generator, emoji_char: str, specific_p: float) -> tuple[str, bool]:
    """A turn that clearly expresses the emoji's meaning; (text, names_picture)."""
    g = lexicon.group_of(emoji_char)
    phrase = _pick(rng, g.phrases)
    end = _pick(rng, lexicon.PUNCT_END)
    if rng.random() < specific_p:
        spec = _pick(rng, lexicon.specific_phrases(emoji_char))
        form = int(rng.integers(4))
        text = [f"{spec}", f"{spec} {end}", f"{phrase} ， {spec}", f"{spec} ， {phrase}"][form]
        return text, True
    form = int(rng.integers(4))
    if form == 0:
        text = phrase
    elif form == 1:
        text = f"{phrase} {end}"
    elif form == 2:
        text = join_clauses(small_talk(rng), phrase)
    else:
        text = f"{phrase} {_pick(rng, g.phrases)}"
    return text, False


def weak_cue(rng: np.random.Generator, emoji_char: str) -> str:
    g = lexicon.group_of(emoji_char)
    kw = _pick(rng, g.keywords)
    if rng.random() < 0.5:
        return join_clauses(small_talk(rng), kw)
    return f"{kw} {_pick(rng, lexicon.PUNCT_END)}"


def _turn_count(rng: np.random.Generator, cfg: DialogConfig) -> int:
    span = cfg.max_turns - cfg.min_turns
    return cfg.min_turns + (int(rng.binomial(span, cfg.turn_count_p)) if span > 0 else 0)


def _cue_back(rng: np.random.Generator, cfg: DialogConfig, n: int) -> int:
    """How many turns before the last one the cue sits (0 = last turn)."""
    u = rng.random()
    if u < cfg.cue_last or n == 1:
        return 0
    if u < cfg.cue_last + cfg.cue_second_last or n == 2:
        return 1
    return int(rng.integers(2, min(6, n - 1) + 1))


def make_dialog(
    rng: np.random.Generator,
    gt_emoji: str,
    cfg: DialogConfig,
    chat: ChatGroup,
    other_emoji: Sequence[str],
) -> tuple[list[dict], int, int | None, dict]:
    """Builds one context for a ground-truth sticker depicting ``gt_emoji``.

    Returns (context turns, sender user id, current reply_to_msg_id, meta).
    ``other_emoji`` is the pool misleading cues are drawn from.
    """
    n = _turn_count(rng, cfg)
    # Participants: a handful of group members, the most active more often.
    n_users = int(np.clip(2 + rng.poisson(4.8), 2, min(12, n + 1)))
    users = rng.choice(chat.members, size=n_users, replace=False, p=chat.activity)
    users = [int(u) for u in users]
    speakers = []
    prev = -1
    for i in range(n):
        if prev >= 0 and rng.random() < 0.3:
            k = prev
        elif i < n_users - 1 and rng.random() < 0.7:
            k = i % (n_users - 1)  # make sure most participants speak
        else:
            k = int(rng.integers(n_users - 1))
        speakers.append(k)
        prev = k
    # The sticker is sent by the last participant, who may also have spoken.
    sender = users[-1]
    texts = [small_talk(rng) for _ in range(n)]
    for i in range(n):
        if rng.random() < 0.12:  # the sender chats too
            speakers[i] = n_users - 1

    u = rng.random()
    cue_kind = (
        "none"
        if u < cfg.no_cue_fraction
        else "weak"
        if u < cfg.no_cue_fraction + cfg.weak_cue_fraction
        else "strong"
    )
    cue_idx = None
    named = False
    if cue_kind != "none":
        cue_idx = n - 1 - _cue_back(rng, cfg, n)
        if cue_kind == "strong":
            texts[cue_idx], named = strong_cue(rng, gt_emoji, cfg.specific_fraction)
            if n > 1 and rng.random() < cfg.echo_fraction:
                j = int(rng.integers(max(0, n - 6), n))
                if j != cue_idx:
                    texts[j] = _pick(rng, lexicon.group_of(gt_emoji).phrases)
        else:
            texts[cue_idx] = weak_cue(rng, gt_emoji)

    mis_idx = None
    if n > 1 and rng.random() < cfg.misleading_fraction:
        gt_group = lexicon.group_of(gt_emoji).name
        choices = [e for e in other_emoji if lexicon.group_of(e).name != gt_group]
        mis_emoji = _pick(rng, choices)
        free = [i for i in range(n) if i != cue_idx]
        if cue_idx is not None:
            older = [i for i in free if i < cue_idx]
            newer = [i for i in free if i > cue_idx]
            if older and (not newer or rng.random() < cfg.misleading_older):
                free = older
            elif newer:
                free = newer
        # prefer recent turns: misleading cues come from the same conversation
        free = free[-6:]
        mis_idx = free[int(rng.integers(len(free)))]
        texts[mis_idx] = strong_cue(rng, mis_emoji, cfg.specific_fraction)[0]
        if cue_idx is not None and speakers[mis_idx] == speakers[cue_idx] and n_users > 2:
            speakers[mis_idx] = (speakers[mis_idx] + 1) % (n_users - 1)

    base = int(rng.integers(100_000, 20_000_000))
    msg_ids = []
    mid = base
    for _ in range(n):
        mid += 1 + int(rng.poisson(0.6))  # filtered messages (links, files) leave gaps
        msg_ids.append(mid)
    context = []
    for i in range(n):
        reply = None
        if i > 0 and rng.random() < cfg.reply_fraction:
            reply = msg_ids[max(0, i - 1 - int(rng.geometric(0.45)) + 1)]
        context.append(
            {
                "text": texts[i],
                "reply_to_msg_id": reply,
                "id": msg_ids[i],
                "from_id": users[speakers[i]],
            }
        )
    u = rng.random()
    if cue_idx is not None and u < 0.3:
        current_reply = msg_ids[cue_idx]
    elif 0.3 <= u < 0.4:
        current_reply = msg_ids[int(rng.integers(n))]
    else:
        current_reply = None
    meta = {
        "cue": cue_kind,
        "cue_back": None if cue_idx is None else n - 1 - cue_idx,
        "named": named,
        "misleading": mis_idx is not None,
    }
    return context, sender, current_reply, meta


# ------------------------------------------------------------------- oracle
def _turn_hits(text: str, emoji_char: str) -> float:
    g = lexicon.group_of(emoji_char)
    score = 0.0
    if any(lexicon.contains_phrase(text, p) for p in g.phrases + g.keywords):
        score += 1.0
    if any(lexicon.contains_phrase(text, p) for p in lexicon.specific_phrases(emoji_char)):
        score += 2.0
    return score


def cue_oracle_scores(
    texts: Sequence[str], depicted: Sequence[str], decay: float = 0.6
) -> np.ndarray:
    """Scores candidates by the lexicon cues for what they depict.

    The "perfect read-the-emoji-cue strategy": it knows which emoji every
    candidate picture shows and finds that emoji's phrases in the context,
    recent turns weighing more.
    """
    cache: dict[str, float] = {}
    out = np.zeros(len(depicted), np.float64)
    n = len(texts)
    for c, e in enumerate(depicted):
        if e not in cache:
            s = 0.0
            for i, t in enumerate(texts):
                h = _turn_hits(t, e)
                if h:
                    s += h * decay ** (n - 1 - i)
            cache[e] = s
        out[c] = cache[e]
    return out


def recall_at_1(scores: np.ndarray, label: int) -> float:
    """R@1 with ties shared: 1/k if the label is among k tied top scores."""
    top = scores.max()
    tied = np.flatnonzero(scores == top)
    return 1.0 / len(tied) if label in tied else 0.0
