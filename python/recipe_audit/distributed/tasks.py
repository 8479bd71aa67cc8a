"""The bodies of the distributed join's Ray tasks: map (keys per reduce task), reduce (buckets
searched in Rust) and tile (a hot bucket's pair of chunks). Plain functions of arrays: Ray ships
them, and tests and benches call them in-process."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

import recipe_audit._core as _core
from recipe_audit.dedup import blockjoin

Chunk = tuple[np.ndarray, np.ndarray]  # hashes and their global ids


def tile_edges(a: Chunk, b: Chunk, radius: int, same: bool) -> tuple[np.ndarray, np.ndarray]:
    """Spanning-forest edges (global ids) of the matches within chunk `a` (same) or between two."""
    (a_hashes, a_ids), (b_hashes, b_ids) = a, b
    if same:
        left, right = _core.hamming_forest(a_hashes, radius)
        return a_ids[left], a_ids[right]
    left, right = _core.hamming_forest_across(a_hashes, b_hashes, radius)
    ids = np.concatenate((a_ids, b_ids))
    return ids[left], ids[right]


def emit_partitions(
    hashes: np.ndarray, first_id: int, layout: blockjoin.BlockLayout, partitions: int
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...] | tuple[np.ndarray, ...]:
    """Map side: this slice's keys, cut into one ``(keys, hashes, ids)`` part per reduce task."""
    keys = blockjoin.emit_keys(hashes, layout)
    repeat = len(keys) // max(len(hashes), 1)
    rows_hashes = np.tile(hashes, repeat)
    rows_ids = np.tile(np.arange(first_id, first_id + len(hashes), dtype=np.uint32), repeat)
    target = blockjoin.partition_of(keys, partitions)
    order = np.argsort(target, kind="stable")
    cuts = np.cumsum(np.bincount(target, minlength=partitions))[:-1]
    parts = tuple(zip(*(np.split(column[order], cuts) for column in (keys, rows_hashes, rows_ids))))
    return parts if partitions > 1 else parts[0]


def search_partition(radius: int, chunk_size: int, *parts: tuple[np.ndarray, np.ndarray, np.ndarray]) -> Iterator[Any]:
    """Reduce side: bucket this partition's keys and search each bucket of up to
    ``2 * chunk_size`` hashes in Rust. Yields the result first (edges, counts, and for each
    larger, hot, bucket its key, size and number of chunks), then the hot buckets' chunks of
    `chunk_size` `(hashes, ids)`: on Ray these stay in the object store for the tile tasks
    instead of passing through the driver."""
    keys, hashes, ids = (np.concatenate([p[k] for p in parts]) for k in range(3))
    buckets = blockjoin.bucket(keys, hashes, ids)
    sizes = buckets.sizes
    hot = sizes > 2 * chunk_size
    cold = buckets.select(~hot)
    a, b = _core.hamming_forest_in_buckets(cold.hashes, cold.ids, cold.offsets, radius)
    hot_buckets = buckets.select(hot)
    spans = list(zip(hot_buckets.offsets[:-1].astype(np.int64), hot_buckets.offsets[1:].astype(np.int64)))
    cold_sizes = sizes[~hot].astype(np.float64)
    yield {
        "a": a,
        "b": b,
        "keys": len(keys),
        "buckets": len(sizes),
        "largest": int(sizes.max()) if len(sizes) else 0,
        "candidates": int((cold_sizes * (cold_sizes - 1) / 2).sum()),
        "hot": [
            (int(key), int(end - start), -(-int(end - start) // chunk_size))
            for key, (start, end) in zip(hot_buckets.keys.tolist(), spans)
        ],
    }
    for start, end in spans:
        for at in range(start, end, chunk_size):
            stop = min(at + chunk_size, end)
            yield hot_buckets.hashes[at:stop], hot_buckets.ids[at:stop]


def salted_tiles(chunks: Sequence[Any], radius: int) -> list[tuple[Any, Any, int, bool]]:
    """A hot bucket's chunks (or references to them), one tile task per pair of chunks: every
    pair of its hashes is in exactly one tile."""
    return [(chunks[i], chunks[j], radius, i == j) for i in range(len(chunks)) for j in range(i, len(chunks))]


__all__ = ["Chunk", "tile_edges", "emit_partitions", "search_partition", "salted_tiles"]
