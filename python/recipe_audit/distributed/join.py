"""Near duplicates past one machine: the window rule as tile tasks, or the single-hash search as a
multi-index-hashing block join (see the package docstring), on a `RayEngine`."""

from __future__ import annotations

import logging
import sys
from dataclasses import replace

import numpy as np
import polars as pl

import recipe_audit._core as _core
from recipe_audit.dedup import blockjoin, leaks, thumbmatch
from recipe_audit.dedup.duplicates import TileProgress
from recipe_audit.dedup.rule import (
    SEARCH_COLUMNS,
    groups_frame,
    search_radius,
    usable_rows,
    uses_window_rule,
    window_groups,
)
from recipe_audit.distributed.engine import RayEngine
from recipe_audit.distributed.stats import JoinStats
from recipe_audit.distributed.tasks import emit_partitions, salted_tiles, search_partition, tile_edges

log = logging.getLogger("recipe_audit")


def _search_columns(files: pl.DataFrame | pl.LazyFrame, hash: str) -> pl.DataFrame:
    """Only the columns the searches read, so a dataset of 1e8 rows is not collected whole."""
    if isinstance(files, pl.DataFrame):
        return files
    wanted = ["path", "status", "content_hash", hash, *SEARCH_COLUMNS]
    names = files.collect_schema().names()
    return files.select(list(dict.fromkeys(c for c in wanted if c in names))).collect()


CHAINING_SHARE = 0.01
"""A group over this share of the distinct hashes (and over `CHAINING_MIN` of them) is logged
as a likely chain of unrelated images."""
CHAINING_MIN = 1_000
JOIN_CHUNK_SIZE = 1_000_000
"""Distinct hashes per map task of the block join, by default."""


def near_duplicate_forest(
    distinct: np.ndarray,
    engine: RayEngine,
    radius: int,
    *,
    chunk_size: int = JOIN_CHUNK_SIZE,
    partitions: int | None = None,
) -> tuple[np.ndarray, np.ndarray, JoinStats]:
    """The distributed block join over sorted distinct hashes: spanning-forest edges (indices
    into `distinct`) whose components are exactly the within-`radius` groups, and its stats.

    Args:
        chunk_size: distinct hashes per map task, and half the size above which a bucket is hot
            (salted into tiles of two chunks), so no task searches more than ``2 * chunk_size``.
        partitions: reduce tasks; by default enough for ~8M keys each and two per cluster CPU.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    layout = blockjoin.choose_layout(len(distinct), radius)
    keys = len(distinct) * layout.keys_per_hash
    if partitions is None:
        partitions = blockjoin.default_partitions(keys, engine.cpus())
    starts = list(range(0, len(distinct), chunk_size))
    maps = [(engine.put(distinct[s : s + chunk_size]), s, layout) for s in starts]
    edges_a, edges_b, hot, tiles_per_key, reduced = [], [], [], [], []
    # No hash, no task: reduce tasks without map tasks would have nothing to join.
    shuffled = (
        engine.map_reduce(emit_partitions, maps, search_partition, (radius, chunk_size), partitions, streamed=True)
        if maps
        else ()
    )
    for result, chunks in shuffled:
        edges_a.append(result["a"])
        edges_b.append(result["b"])
        for key, size, count in result.pop("hot"):
            hot.append((key, size))
            tiles_per_key.append(salted_tiles(chunks[:count], radius))
            chunks = chunks[count:]
        reduced.append(result)
    tiles = [tile for key_tiles in tiles_per_key for tile in key_tiles]
    for a, b in engine.map(tile_edges, tiles):
        edges_a.append(a)
        edges_b.append(b)
    hot_keys = pl.DataFrame(
        [(*blockjoin.key_block_value(key), size, len(t)) for (key, size), t in zip(hot, tiles_per_key)],
        schema={"block": pl.UInt32, "value": pl.UInt32, "hashes": pl.UInt64, "tiles": pl.UInt64},
        orient="row",
    )
    stats = JoinStats(
        layout=layout,
        hashes=len(distinct),
        keys=sum(r["keys"] for r in reduced),
        buckets=sum(r["buckets"] for r in reduced),
        largest_bucket=max((r["largest"] for r in reduced), default=0),
        candidate_pairs=sum(r["candidates"] for r in reduced),
        map_tasks=len(maps),
        reduce_tasks=partitions if maps else 0,
        tile_tasks=len(tiles),
        hot_keys=hot_keys.sort("hashes", descending=True),
    )
    empty = np.zeros(0, np.uint32)
    return (
        np.concatenate(edges_a or [empty]).astype(np.uint32),
        np.concatenate(edges_b or [empty]).astype(np.uint32),
        stats,
    )


def find_duplicates(
    files: pl.DataFrame | pl.LazyFrame,
    engine: RayEngine,
    *,
    hash: str = "phash",
    max_distance: int | None = None,
    exact: bool = True,
    chunk_size: int | None = None,
    crops: bool | None = None,
    progress: bool | None = None,
) -> pl.DataFrame:
    """`recipe_audit.find_duplicates` on `engine`, with the same rule and the same frame.

    The default window rule runs as tiles: the textured pictures in chunks of `chunk_size`, one
    task per pair of chunks (`thumbmatch.tile_links`), the groups joined on the driver. The
    single-hash search (`max_distance`, ``crops=False`` or another `hash`) runs as a block join;
    ``engine.last_join`` then holds its `JoinStats`.

    Args:
        files: a scan frame, or the lazy frame of a dataset run (``ScanRun.files``); only the
            columns the search needs are collected.
        engine: a `RayEngine`; ``engine.last_join`` holds the block join's `JoinStats` afterwards
            (None after the window rule).
        chunk_size: pictures per chunk (window rule; default `thumbmatch.TILE_SIZE`: a task
            searches one chunk or two), or distinct hashes per map task (block join; default
            1,000,000: a bucket of more than ``2 * chunk_size`` hashes is hot and searched as
            tiles of two chunks, so no task holds more).
        crops: ``False`` selects the single-hash search, as in `recipe_audit.find_duplicates`.
        progress: the window rule's tiles done on stderr (``None``: when stderr is a terminal).

    Example:
        >>> dups = recipe_audit.distributed.find_duplicates(run.files, engine)   # doctest: +SKIP
        >>> engine.last_join.hot_keys                                            # doctest: +SKIP
        >>> leaks = recipe_audit.find_leaks(run.files.collect(), dups)           # doctest: +SKIP
    """
    files = _search_columns(files, hash)
    extra = [c for c in ("label", "split") if c in files.columns]
    if uses_window_rule(files, hash, max_distance, crops, None):
        if chunk_size is not None and chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        engine.last_join = None
        show = TileProgress() if (sys.stderr.isatty() if progress is None else progress) else None

        def search(rows: pl.DataFrame) -> np.ndarray:
            return thumbmatch.matched_groups(
                thumbmatch.thumbnails(rows),
                thumbmatch.shapes(rows),
                signs=thumbmatch.sign_maps(rows),
                chunk_size=chunk_size,
                run_tiles=lambda tiles: engine.map(thumbmatch.tile_links, tiles),
                put=engine.put,
                on_tile=show,
            )

        return window_groups(files, search, hash=hash, exact=exact, extra=extra)
    usable = usable_rows(files, hash)
    radius = search_radius(hash, max_distance)
    if radius >= blockjoin.BITS:
        raise ValueError("the distributed search takes max_distance up to 63 bits")
    distinct = np.unique(usable[hash].to_numpy())
    a, b, stats = near_duplicate_forest(
        distinct, engine, radius, chunk_size=JOIN_CHUNK_SIZE if chunk_size is None else chunk_size
    )
    if stats.hot_keys.height:
        log.warning(
            "near-duplicate join: %d hot keys (largest %d hashes) salted into %d tiles",
            stats.hot_keys.height,
            stats.largest_bucket,
            stats.tile_tasks,
        )
    roots = _core.hamming_components(len(distinct), a, b)
    largest = int(np.bincount(roots).max()) if len(roots) else 0
    engine.last_join = stats = replace(stats, largest_group=largest)
    if largest > max(CHAINING_MIN, CHAINING_SHARE * len(distinct)):
        log.warning(
            "near-duplicate join: one group holds %d of %d distinct hashes; at radius %d unrelated "
            "images may be chaining into it (try a smaller max_distance; see docs/scale.md)",
            largest,
            len(distinct),
            radius,
        )
    per_row = roots[np.searchsorted(distinct, usable[hash].to_numpy())]
    return groups_frame(usable, per_row, hash=hash, exact=exact, flips=False, extra=extra)


def find_leaks(
    files: pl.DataFrame | pl.LazyFrame,
    engine: RayEngine,
    dups: pl.DataFrame | None = None,
    *,
    max_distance: int | None = None,
    max_twins: int = 10,
) -> pl.DataFrame:
    """`recipe_audit.find_leaks` with the duplicate groups from the block join on `engine`.

    Example:
        >>> leaks = recipe_audit.distributed.find_leaks(run.files, engine)   # doctest: +SKIP
    """
    files = _search_columns(files, "phash")
    dups = find_duplicates(files, engine, max_distance=max_distance) if dups is None else dups
    return leaks.find_leaks(files, dups, max_twins=max_twins)


def find_label_conflicts(
    files: pl.DataFrame | pl.LazyFrame,
    engine: RayEngine,
    dups: pl.DataFrame | None = None,
    *,
    max_distance: int | None = None,
) -> pl.DataFrame:
    """`recipe_audit.find_label_conflicts` with the duplicate groups from the block join on `engine`.

    Example:
        >>> conflicts = recipe_audit.distributed.find_label_conflicts(run.files, engine)   # doctest: +SKIP
    """
    files = _search_columns(files, "phash")
    dups = find_duplicates(files, engine, max_distance=max_distance) if dups is None else dups
    return leaks.find_label_conflicts(files, dups)


__all__ = [
    "find_duplicates",
    "find_leaks",
    "find_label_conflicts",
    "near_duplicate_forest",
    "CHAINING_SHARE",
    "CHAINING_MIN",
]
