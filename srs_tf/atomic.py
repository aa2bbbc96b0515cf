"""Outputs that appear whole or not at all: write to a temporary name in the
same directory, then rename (a crash never leaves a half-written file or
directory that looks complete)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yields a temporary path beside ``path``; on success renames it to
    ``path`` (mode 0666 less the umask), on error removes it."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory
    )
    os.close(fd)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path: str, text: str) -> None:
    """Writes UTF-8 ``text`` to ``path`` atomically (flushed to disk first)."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())


def write_json(path: str, value, **dumps_kwargs) -> None:
    """Writes ``value`` as indented JSON atomically."""
    dumps_kwargs.setdefault("indent", 2)
    dumps_kwargs.setdefault("sort_keys", True)
    dumps_kwargs.setdefault("default", float)
    write_text(path, json.dumps(value, **dumps_kwargs) + "\n")


def replace_directory(tmp: str, out: str) -> None:
    """Moves the finished directory ``tmp`` to ``out``, replacing an existing
    ``out`` only once ``tmp`` is complete (callers decide whether replacing
    is allowed)."""
    parent = os.path.dirname(os.path.abspath(out))
    old = None
    if os.path.lexists(out):
        old = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}.old-", dir=parent)
        os.rmdir(old)
        os.replace(out, old)
    os.replace(tmp, out)
    os.chmod(out, 0o755)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def staged_directory(out: str, check: Callable[[], None] | None = None) -> Iterator[str]:
    """Stage a whole output directory, then put it in place.

    Yields a new empty directory beside ``out``. When the block ends without
    an error, ``check()`` runs (e.g. to refuse an ``out`` that appeared in
    the meantime) and the staged directory replaces ``out``
    (``replace_directory``). On any error, interruption included, the staged
    directory is removed and ``out`` is left as it was.

    Example:
        with staged_directory("runs/export") as tmp:
            write_everything_into(tmp)
    """
    out = os.path.abspath(out)
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}.tmp-", dir=parent)
    try:
        yield tmp
        if check is not None:
            check()
        replace_directory(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
