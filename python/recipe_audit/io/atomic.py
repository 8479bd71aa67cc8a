"""Outputs written whole or not at all: to a temporary name beside the target, then renamed, so an
interrupt or a crash leaves the previous file (or none), and a reader never sees half of one."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import polars as pl


def replace_with(path: str | os.PathLike[str], write: Callable[[Path], object]) -> Path:
    """Call ``write(partial)`` on a temporary path in `path`'s folder, then rename it to `path`.

    A link is written through (its target is replaced, the link stays); what cannot be renamed
    over (``/dev/stdout``, a pipe) and an object store's URI are written directly."""
    if "://" in os.fspath(path):
        write(path)  # type: ignore[arg-type]  # polars writes a URI to its store itself
        return Path(path)
    given = Path(path)
    if given.exists() and not given.is_file():  # following links: /dev/stdout, a pipe
        write(given)
        return given
    target = given.resolve() if given.is_symlink() else given
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        write(partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return Path(path)


def write_parquet(frame: pl.DataFrame, path: str | os.PathLike[str]) -> Path:
    """`frame.write_parquet(path)`, whole or not at all."""
    return replace_with(path, frame.write_parquet)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """`Path(path).write_text(text)` in UTF-8, whole or not at all."""
    return replace_with(path, lambda partial: partial.write_text(text, encoding="utf-8"))
