"""The bottom layer: the scan frame's contract (columns, types, statuses), scan defaults and shared
type aliases. Every other module may import this one; it imports nothing of the package but the
compiled core and `thumbcode` (how the ``thumb`` column is stored)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, Union

import polars as pl

import recipe_audit._core as _core
import recipe_audit.thumbcode as thumbcode

PathLike = Union[str, "os.PathLike[str]"]
"""A path as users pass it: ``str`` or ``pathlib.Path``."""

# The scan's defaults are declared once, in the core (rust/lib.rs), whose signatures use them.
MAX_PIXELS: int = _core.DEFAULT_MAX_PIXELS
"""Default `scan(max_pixels=)`: images declaring more pixels are ``too_large`` (bomb guard)."""
MAX_BYTES: int = _core.DEFAULT_MAX_BYTES
"""Default `scan(max_bytes=)`: larger files are ``too_large`` and not read."""
MIN_DECODE_SIDE: int = _core.DEFAULT_MIN_DECODE_SIDE
"""Default `scan(min_decode_side=)`: JPEGs are seen at the smallest DCT scale keeping this side."""

STATUSES: tuple[str, ...] = tuple(_core.STATUSES)
"""Every value the `status` column can take."""

SCAN_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    name: getattr(pl, dtype) for name, dtype in _core.SCAN_COLUMNS
}
"""Column names and types of the frame `scan` returns: a stable contract."""


def frame_from_columns(columns: dict[str, list[Any]]) -> pl.DataFrame:
    """The scan frame from the core's columns, typed by `SCAN_SCHEMA`; the core's 256-byte
    thumbnails are stored as their 92-byte codes (`thumbcode`)."""
    if "thumb" in columns:
        columns = {**columns, "thumb": thumbcode.coded(columns["thumb"])}
    return pl.DataFrame(columns, schema=SCAN_SCHEMA)


def require_columns(
    frame: pl.DataFrame | pl.LazyFrame,
    columns: Iterable[str],
    *,
    what: str = "files",
    hint: str = "pass the frame recipe_audit.scan returns",
) -> None:
    """Raise one ValueError naming every column of `columns` that `frame` lacks.

    >>> require_columns(pl.DataFrame({"path": []}), ["path"])
    >>> require_columns(pl.DataFrame({"path": []}), ["status", "phash"])
    Traceback (most recent call last):
    ...
    ValueError: files lacks the scan columns ['phash', 'status']; pass the frame recipe_audit.scan returns
    """
    names = set(frame.collect_schema().names() if isinstance(frame, pl.LazyFrame) else frame.columns)
    absent = sorted(set(columns) - names)
    if absent:
        raise ValueError(f"{what} lacks the scan columns {absent}; {hint}")


def empty_scan_frame() -> pl.DataFrame:
    """A scan frame with no rows (every column typed)."""
    return frame_from_columns({name: [] for name in SCAN_SCHEMA})


__all__ = [
    "PathLike",
    "STATUSES",
    "SCAN_SCHEMA",
    "MAX_PIXELS",
    "MAX_BYTES",
    "MIN_DECODE_SIDE",
    "frame_from_columns",
    "require_columns",
    "empty_scan_frame",
]
