"""Word and emoji vocabularies (docs/CONTRACTS.md, "Vocabularies").

A vocabulary file has one entry per line, either ``<token> <count>`` or just
``<token>`` (both forms may be mixed; the count is kept but never used for
ids). Ids: ``[PAD]`` = 0, ``[UNK]`` = 1, then the file's entries in file
order (2, 3, ...). A file that itself lists ``[PAD]`` or ``[UNK]`` does not
shift the ids of the other entries; a token listed twice keeps its first id.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence

from srs_tf import atomic

PAD_TOKEN = "[PAD]"
UNK_TOKEN = "[UNK]"
PAD_ID = 0
UNK_ID = 1
RESERVED_TOKENS = (PAD_TOKEN, UNK_TOKEN)


class VocabError(ValueError):
    """A vocabulary file is missing or malformed (the message names file and line)."""


def _parse_line(line: str, path: str, line_no: int) -> tuple[str, int | None] | None:
    fields = line.split()
    if not fields:
        return None
    if len(fields) == 1:
        return fields[0], None
    if len(fields) == 2:
        try:
            return fields[0], int(fields[1])
        except ValueError:
            raise VocabError(
                f"{path}:{line_no}: expected '<token> <count>' or '<token>', "
                f"but the count {fields[1]!r} is not an integer"
            ) from None
    raise VocabError(
        f"{path}:{line_no}: expected '<token> <count>' or '<token>', got {len(fields)} "
        f"fields: {line.rstrip()!r}"
    )


class Vocab:
    """A token <-> id mapping with ``[PAD]`` = 0 and ``[UNK]`` = 1."""

    def __init__(self, tokens: Iterable[str] = (), counts: dict[str, int] | None = None):
        self._id_to_token: list[str] = list(RESERVED_TOKENS)
        self._token_to_id: dict[str, int] = {t: i for i, t in enumerate(RESERVED_TOKENS)}
        self._counts: dict[str, int] = {}
        for token in tokens:
            self.add(token)
        for token, count in (counts or {}).items():
            if token in self._token_to_id and count is not None:
                self._counts[token] = int(count)

    def add(self, token: str, count: int | None = None) -> int:
        """Adds ``token`` if new and returns its id (existing tokens keep their id)."""
        if (
            not isinstance(token, str)
            or not token
            or token != token.strip()
            or len(token.split()) != 1
        ):
            raise VocabError(
                f"invalid vocabulary token {token!r}: must be a non-empty string without whitespace"
            )
        if token not in self._token_to_id:
            self._token_to_id[token] = len(self._id_to_token)
            self._id_to_token.append(token)
            if count is not None:
                self._counts[token] = int(count)
        return self._token_to_id[token]

    @classmethod
    def load(cls, path: str) -> Vocab:
        """Reads a one- or two-column vocabulary file; errors name file and line."""
        if not os.path.isfile(path):
            raise VocabError(f"vocabulary file not found: {path}")
        vocab = cls()
        try:
            with open(path, encoding="utf-8-sig") as f:
                for line_no, line in enumerate(f, start=1):
                    parsed = _parse_line(line, path, line_no)
                    if parsed is not None:
                        vocab.add(*parsed)
        except UnicodeDecodeError as e:
            raise VocabError(f"{path}: not valid UTF-8 ({e})") from None
        return vocab

    def save(self, path: str) -> None:
        """Writes the non-reserved entries in id order (``<token> <count>`` when a
        count is known, else ``<token>``); ``Vocab.load`` restores identical ids."""
        lines = []
        for token in self._id_to_token[len(RESERVED_TOKENS) :]:
            count = self._counts.get(token)
            lines.append(f"{token} {count}\n" if count is not None else f"{token}\n")
        atomic.write_text(path, "".join(lines))

    def __len__(self) -> int:
        return len(self._id_to_token)

    def __contains__(self, token: object) -> bool:
        return token in self._token_to_id

    def __iter__(self) -> Iterator[str]:
        return iter(self._id_to_token)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self._id_to_token == other._id_to_token

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)})"

    @property
    def tokens(self) -> list[str]:
        """All tokens in id order, reserved ones included."""
        return list(self._id_to_token)

    def count(self, token: str) -> int | None:
        return self._counts.get(token)

    def token_to_id(self, token: str) -> int:
        """The id of ``token``, ``UNK_ID`` when it is not in the vocabulary."""
        return self._token_to_id.get(token, UNK_ID)

    def id_to_token(self, token_id: int) -> str:
        if not 0 <= int(token_id) < len(self._id_to_token):
            raise IndexError(f"id {token_id} is out of range for a vocabulary of size {len(self)}")
        return self._id_to_token[int(token_id)]

    def encode(self, words: Sequence[str]) -> list[int]:
        """Maps words to ids (unknown words -> ``UNK_ID``)."""
        get = self._token_to_id.get
        return [get(w, UNK_ID) for w in words]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.id_to_token(i) for i in ids]
