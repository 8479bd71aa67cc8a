"""The bottom layer: the scan frame's contract (columns, types, statuses), scan defaults and shared
type aliases. Every other module may import this one; it imports nothing of the package but the
compiled core."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, Union

import polars as pl

import recipe_audit._core as _core

PathLike = Union[str, "os.PathLike[str]"]
"""A path as users pass it: ``str`` or ``pathlib.Path``."""

# The scan's defaults are declared once, in the core (rust/lib.rs), whose signatures use them.
MAX_PIXELS: int = _core.DEFAULT_MAX_PIXELS
"""Default `scan(max_pixels=)`: images declaring more pixels are ``too_large`` (bomb guard)."""
MAX_BYTES: int = _core.DEFAULT_MAX_BYTES
"""Default `scan(max_bytes=)`: larger files are ``too_large`` and not read."""
MIN_DECODE_SIDE: int = _core.DEFAULT_MIN_DECODE_SIDE
"""Default `scan(min_decode_side=)`: JPEGs decode at the smallest DCT scale keeping this side."""

STATUSES: tuple[str, ...] = ("ok", "empty", "truncated", "corrupt", "unsupported", "unreadable", "too_large", "missing")
"""Every value the `status` column can take."""

SCAN_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "path": pl.String,
    "bytes": pl.UInt64,
    "format": pl.String,
    "ext_mismatch": pl.Boolean,
    "status": pl.String,
    "error": pl.String,
    "width": pl.UInt32,
    "height": pl.UInt32,
    "channels": pl.UInt8,
    "content_hash": pl.String,
    "ahash": pl.UInt64,
    "dhash": pl.UInt64,
    "phash": pl.UInt64,
    "phash_mirror": pl.UInt64,
    "thumb": pl.Binary,
    "mean": pl.Float64,
    "std": pl.Float64,
    "dark_frac": pl.Float64,
    "bright_frac": pl.Float64,
    "luma_p01": pl.UInt8,
    "luma_p99": pl.UInt8,
    "blur": pl.Float64,
    "sharpness": pl.Float64,
    "colorfulness": pl.Float64,
    "chroma_rg": pl.Float64,
    "chroma_yb": pl.Float64,
    "entropy": pl.Float64,
    "aspect": pl.Float64,
    "label": pl.String,
    "split": pl.String,
}
"""Column names and types of the frame `scan` returns: a stable contract."""


def frame_from_columns(columns: dict[str, list[Any]]) -> pl.DataFrame:
    """The scan frame from the core's columns, typed by `SCAN_SCHEMA`."""
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
