"""Which duplicate rule a call selects, the rows it searches, and the groups frame both rules give.

The default rule is the window rule of `recipe_audit.dedup.thumbmatch`; passing `max_distance`,
another hash, ``crops=False`` or ``flips=False`` selects the single-hash search (files whose hash
lies within a radius, searched exactly in Rust). Every entry point (`find_duplicates`,
`duplicate_pairs`, `DuplicateIndex`, the distributed join) decides through `uses_window_rule`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import polars as pl

import recipe_audit._core as _core
from recipe_audit.schema import require_columns

HASHES = ("ahash", "dhash", "phash")
DEFAULT_MAX_DISTANCE = {"phash": 10, "ahash": 2, "dhash": 0}
"""Radius per hash for the single-hash search (`max_distance` given, `crops=False`, or another
hash): the largest radius with precision >= 0.99 in benches/studies/dup_quality.py."""

TRAIN_SPLIT = "train"
"""The split every other split is checked against for leaks."""

SEARCH_COLUMNS = (
    "path",
    "content_hash",
    "ahash",
    "dhash",
    "phash",
    "phash_mirror",
    "thumb",
    "thumb_signs",
    "colorfulness",
    "chroma_rg",
    "chroma_yb",
    "std",
    "dark_frac",
    "width",
    "height",
    "content_width",
    "content_height",
    "label",
    "split",
)
"""The scan columns every duplicate search may read (an index keeps these; a cluster collects these)."""


def usable_rows(files: pl.DataFrame, hash: str) -> pl.DataFrame:
    """The decoded rows that have `hash`, one per path: what the single-hash search sees (a frame
    concatenated with itself must not pair a file with itself)."""
    if hash not in HASHES:
        raise ValueError(f"hash must be one of {HASHES}, not {hash!r}")
    require_columns(files, ("path", "status", "content_hash", hash))
    usable = files.filter((pl.col("status") == "ok") & pl.col(hash).is_not_null())
    return usable.unique("path", keep="first", maintain_order=True)


def uses_window_rule(
    files: pl.DataFrame, hash: str, max_distance: int | None, crops: bool | None, flips: bool | None
) -> bool:
    """Whether the default rule (`recipe_audit.dedup.thumbmatch`) applies, or the single-hash search."""
    if hash != "phash" or max_distance is not None or crops is False or flips is False:
        if crops:
            raise ValueError("crops=True is the default rule: it takes hash='phash', no max_distance and flips")
        return False
    if "thumb" not in files.columns or "phash_mirror" not in files.columns:
        if crops:
            raise ValueError(
                "crops=True needs the scan's thumb and phash_mirror columns; rescan the files with this version"
            )
        return False
    return True


def window_rule_rows(files: pl.DataFrame) -> pl.DataFrame:
    """The decoded rows with a thumbnail and both pHashes: what the window rule sees."""
    return usable_rows(files, "phash").filter(has_window_columns())


def mirror_hashes(rows: pl.DataFrame, hash: str) -> np.ndarray:
    """The rows' ``phash_mirror``, an unknown one (a row of an earlier release) taken as the
    picture's own `hash`: no mirror link through it."""
    require_columns(rows, ("phash_mirror",))
    return rows.select(pl.coalesce("phash_mirror", hash)).to_series().to_numpy()


def has_window_columns() -> pl.Expr:
    """Whether a usable row has what the window rule reads (a row of an earlier release may not)."""
    return pl.col("thumb").is_not_null() & pl.col("phash_mirror").is_not_null()


def _joined_by_bytes(roots: Sequence[Any] | Any, content_hash: pl.Series) -> pl.Series:
    """Component roots merged so that rows with the same ``content_hash`` share one: the
    components of a graph linking each row to the first row of its root and to the first row of
    its bytes (one linear pass; rows without a ``content_hash`` join by their root only)."""
    frame = pl.DataFrame({"root": pl.Series(roots).cast(pl.Int64), "hash": content_hash}).with_row_index("row")
    first_of_root = pl.col("row").first().over("root")
    first_of_hash = pl.when(pl.col("hash").is_not_null()).then(pl.col("row").first().over("hash"))
    links = frame.select(a=pl.col("row"), by_root=first_of_root, by_hash=first_of_hash.fill_null(pl.col("row")))
    a = links["a"].to_numpy().astype(np.uint32)
    edges_a = np.concatenate([a, a])
    edges_b = np.concatenate([links["by_root"].to_numpy(), links["by_hash"].to_numpy()]).astype(np.uint32)
    components = _core.hamming_components(frame.height, edges_a, edges_b)
    merged: pl.Series = pl.Series("root", components, dtype=pl.Int64)
    return merged


def window_groups(
    files: pl.DataFrame,
    search: Callable[[pl.DataFrame], np.ndarray],
    *,
    hash: str,
    exact: bool,
    extra: Sequence[str],
) -> pl.DataFrame:
    """`groups_frame` for the window rule: `search` gets the rows it can judge (`window_rule_rows`)
    and returns each one's group root among them; rows without a thumbnail (measured by an
    earlier release) are not searched but still join the files with their bytes."""
    usable = usable_rows(files, "phash")
    searched = np.flatnonzero(usable.select(has_window_columns()).to_series().to_numpy())
    found = np.asarray(search(usable[searched]), dtype=np.int64)
    each = np.arange(usable.height)  # its own group, unless the search or its bytes join it to others
    each[searched] = searched[found]
    return groups_frame(usable, each, hash=hash, exact=exact, flips=True, extra=extra)


def search_radius(hash: str, max_distance: int | None) -> int:
    """The single-hash search's radius in bits: `max_distance`, or the hash's default."""
    radius = DEFAULT_MAX_DISTANCE[hash] if max_distance is None else max_distance
    if not 0 <= radius <= 64:
        raise ValueError(f"max_distance must be between 0 and 64 bits, not {max_distance!r}")
    return radius


def groups_frame(
    usable: pl.DataFrame, roots: Sequence[Any] | Any, *, hash: str, exact: bool, flips: bool, extra: Sequence[str]
) -> pl.DataFrame:
    """`find_duplicates`' frame from each usable row's component root (however it was searched).
    Files with the same bytes always share a group, even when their rows were measured by
    different releases (a thumbnail's meaning can change between them)."""
    mirror = ["phash_mirror"] if flips else []
    # The representative has the most pixels of content: a copy padded with bars is not kept
    # over its original.
    content = ["content_width", "content_height"]
    content = content if all(c in usable.columns for c in content) else []
    width = pl.coalesce("content_width", "width") if content else pl.col("width")
    height = pl.coalesce("content_height", "height") if content else pl.col("height")
    grouped = (
        usable.select("path", "content_hash", hash, *mirror, "width", "height", *content, *extra)
        .with_columns(
            root=_joined_by_bytes(roots, usable["content_hash"]),
            pixels=width.cast(pl.UInt64) * height.cast(pl.UInt64),
        )
        .filter(pl.len().over("root") > 1)
    )
    representatives = (
        grouped.sort(
            ["pixels", pl.col("path").str.len_bytes(), "path"], descending=[True, False, False], nulls_last=True
        )
        .group_by("root", maintain_order=True)
        .first()
        .select("root", rep_path=pl.col("path"), rep_hash=pl.col(hash))
    )
    same_bytes = pl.col("content_hash").is_not_null() & (pl.len().over("root", "content_hash") > 1)
    direct = (pl.col(hash) ^ pl.col("rep_hash")).bitwise_count_ones()
    via_mirror = (pl.col("phash_mirror") ^ pl.col("rep_hash")).bitwise_count_ones() if flips else direct
    return (
        grouped.join(representatives, on="root")
        .with_columns(
            group=pl.col("path").min().over("root").rank("dense").cast(pl.UInt32) - 1,
            kind=pl.when(pl.lit(exact) & same_bytes)
            .then(pl.lit("exact"))
            .when(via_mirror < direct)
            .then(pl.lit("flip"))
            .otherwise(pl.lit("near")),
            distance=pl.min_horizontal(direct, via_mirror).cast(pl.UInt8),
            representative=pl.col("path") == pl.col("rep_path"),
        )
        .select("path", "group", "kind", "distance", "representative", *extra)
        .sort("group", "path")
    )


__all__ = [
    "SEARCH_COLUMNS",
    "HASHES",
    "DEFAULT_MAX_DISTANCE",
    "TRAIN_SPLIT",
    "usable_rows",
    "uses_window_rule",
    "window_rule_rows",
    "has_window_columns",
    "mirror_hashes",
    "window_groups",
    "search_radius",
    "groups_frame",
]
