"""Counting reads, writes and skips by reason; progress lines for long loops.

``report.json`` (written by ``bin/make_tfrecords`` next to its output)::

    {"train": {"read": N, "written": M, "skipped": {"<reason>": count, ...},
               "counted": {"unknown_emoji": k, ...}, "skip_examples": {...}},
     "val": {...}, "test": {...},
     "bank": {"stickers": K, "sets": S, "skipped": {...}, "counted": {...}, ...}}

For a split, ``read == written + sum(skipped.values())``. ``counted`` holds
events that are not skips (an example kept with an unknown emoji).
``skip_examples`` keeps the first few locations (``file:line``) per reason.
"""

from __future__ import annotations

import collections
import json
import os

MAX_EXAMPLES_PER_REASON = 5


class Counts:
    """Skip and event counters of one split or of the sticker bank."""

    def __init__(self):
        self.read = 0
        self.written = 0
        self.skipped: dict[str, int] = collections.Counter()
        self.counted: dict[str, int] = collections.Counter()
        self.skip_examples: dict[str, list[str]] = collections.defaultdict(list)

    def skip(self, reason: str, where: str | None = None, n: int = 1) -> None:
        self.skipped[reason] += n
        if where is not None and len(self.skip_examples[reason]) < MAX_EXAMPLES_PER_REASON:
            self.skip_examples[reason].append(where)

    def count(self, event: str, n: int = 1) -> None:
        self.counted[event] += n

    def to_dict(self) -> dict:
        return {
            "read": self.read,
            "written": self.written,
            "skipped": dict(sorted(self.skipped.items())),
            "counted": dict(sorted(self.counted.items())),
            "skip_examples": {k: list(v) for k, v in sorted(self.skip_examples.items())},
        }


class Report:
    """The report of one ``make_tfrecords`` run: per split counts and the bank."""

    def __init__(self):
        self.splits: dict[str, Counts] = {}
        self.bank = Counts()
        self.bank_stickers = 0
        self.bank_sets = 0

    def split(self, name: str) -> Counts:
        if name not in self.splits:
            self.splits[name] = Counts()
        return self.splits[name]

    def to_dict(self) -> dict:
        out = {name: counts.to_dict() for name, counts in self.splits.items()}
        bank = {"stickers": self.bank_stickers, "sets": self.bank_sets}
        bank.update({k: v for k, v in self.bank.to_dict().items() if k not in ("read", "written")})
        out["bank"] = bank
        return out

    def write_json(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, indent=2, ensure_ascii=False, sort_keys=False)
            f.write("\n")

    def format_table(self) -> str:
        """A plain-text table of the report (what ``bin/make_tfrecords`` prints)."""
        rows = [("split", "read", "written", "skipped (by reason)")]
        for name, c in self.splits.items():
            reasons = ", ".join(f"{r}={n}" for r, n in sorted(c.skipped.items())) or "-"
            rows.append((name, str(c.read), str(c.written), reasons))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        body = [
            f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]}" for r in rows
        ]
        lines = [body[0], "-" * max(len(b) for b in body)] + body[1:]
        for name, c in self.splits.items():
            for event, n in sorted(c.counted.items()):
                lines.append(f"{name}: {event}={n} (kept, counted)")
        bank_skips = ", ".join(f"{r}={n}" for r, n in sorted(self.bank.skipped.items())) or "-"
        lines.append(
            f"bank: stickers={self.bank_stickers} sets={self.bank_sets} skipped: {bank_skips}"
        )
        for event, n in sorted(self.bank.counted.items()):
            lines.append(f"bank: {event}={n} (kept, counted)")
        return "\n".join(lines)


def file_line(path: str, line_no: int) -> str:
    return f"{os.path.basename(path)}:{line_no}"
