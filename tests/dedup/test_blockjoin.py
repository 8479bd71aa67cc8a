"""The block join's pure parts (layout, keys, map and reduce sides) against brute force, without an
engine: real photo pHashes with near copies planted, and a hot key that must be salted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

import recipe_audit
from recipe_audit import _core
from recipe_audit.dedup import blockjoin
from recipe_audit.distributed.tasks import emit_partitions, salted_tiles, search_partition, tile_edges


@pytest.mark.parametrize("radius", range(0, 40))
def test_every_layout_is_exact_by_pigeonhole(radius: int) -> None:
    for n in (10, 10**6, 10**9):
        layout = blockjoin.choose_layout(n, radius)
        assert sum(layout.widths) == 64 and max(layout.widths) <= 32
        assert layout.blocks * (layout.probe_bits + 1) > radius


def test_radius_outside_a_block_join_is_refused() -> None:
    with pytest.raises(ValueError, match="between 0 and 63"):
        blockjoin.choose_layout(10, 64)


def _real_hashes_with_near_copies(photos: list[Path], copies: int = 60, seed: int = 5) -> np.ndarray:
    real = recipe_audit.scan(photos[0].parent, progress=False).filter(pl.col("status") == "ok")["phash"].to_numpy()
    rng = np.random.default_rng(seed)
    planted = [
        h ^ np.uint64(sum(1 << int(b) for b in rng.choice(64, rng.integers(1, 12), replace=False)))
        for h in rng.choice(real, copies)
    ]
    return np.unique(np.concatenate([real, np.array(planted, dtype=np.uint64)]))


@pytest.mark.parametrize("radius", [3, 10])
def test_pairs_within_the_radius_share_a_key(photos: list[Path], radius: int) -> None:
    hashes = _real_hashes_with_near_copies(photos)
    i, j, _ = _core.hamming_pairs(hashes, radius)
    assert len(i) > 10, "the planted copies make pairs"
    layout = blockjoin.choose_layout(len(hashes), radius)
    keys = blockjoin.emit_keys(hashes, layout).reshape(layout.keys_per_hash, len(hashes))
    assert all(set(keys[:, a]) & set(keys[:, b]) for a, b in zip(i, j))


def _join_in_process(hashes: np.ndarray, radius: int, chunk_size: int, partitions: int) -> tuple[np.ndarray, list]:
    """The map, reduce and tile tasks run one after another, as an engine would run them."""
    layout = blockjoin.choose_layout(len(hashes), radius)
    maps = [
        emit_partitions(hashes[s : s + chunk_size], s, layout, partitions) for s in range(0, len(hashes), chunk_size)
    ]
    if partitions == 1:
        maps = [[m] for m in maps]
    reduced, hot = [], []
    for j in range(partitions):
        outputs = search_partition(radius, chunk_size, *[m[j] for m in maps])
        result, chunks = next(outputs), list(outputs)
        reduced.append(result)
        for key, size, count in result["hot"]:
            assert sum(len(h) for h, _ in chunks[:count]) == size and all(
                len(h) <= chunk_size for h, _ in chunks[:count]
            )
            hot.append((key, np.concatenate([h for h, _ in chunks[:count]]), chunks[:count]))
            chunks = chunks[count:]
        assert not chunks, "every chunk belongs to a hot bucket"
    tiles = [tile_edges(*t) for _, _, chunks in hot for t in salted_tiles(chunks, radius)]
    a = np.concatenate([r["a"] for r in reduced] + [t[0] for t in tiles]).astype(np.uint32)
    b = np.concatenate([r["b"] for r in reduced] + [t[1] for t in tiles]).astype(np.uint32)
    assert len(set(a.tolist())) <= len(hashes)
    return _core.hamming_components(len(hashes), a, b), hot


@pytest.mark.parametrize(("radius", "chunk_size", "partitions"), [(10, 50, 3), (10, 10_000, 1), (4, 7, 5), (0, 20, 2)])
def test_the_join_gives_the_single_machine_groups(
    photos: list[Path], radius: int, chunk_size: int, partitions: int
) -> None:
    hashes = _real_hashes_with_near_copies(photos)
    roots, _ = _join_in_process(hashes, radius, chunk_size, partitions)
    assert np.array_equal(roots, _core.hamming_groups(hashes, radius))


def test_a_hot_key_is_salted_and_still_exact(photos: list[Path]) -> None:
    # 400 near-blank frames: distinct hashes that agree on most blocks, so those keys are hot.
    rng = np.random.default_rng(11)
    blank = np.array(
        [sum(1 << int(b) for b in rng.choice(64, rng.integers(0, 4), replace=False)) for _ in range(400)],
        dtype=np.uint64,
    )
    hashes = np.unique(np.concatenate([_real_hashes_with_near_copies(photos), blank]))
    roots, hot = _join_in_process(hashes, 10, chunk_size=40, partitions=4)
    assert np.array_equal(roots, _core.hamming_groups(hashes, 10))
    assert hot, "the blank frames' keys exceed 80 hashes"
    assert max(len(h) for _, h, _ in hot) >= 150, "most of the ~210 distinct blank hashes share a zero block"
    assert {blockjoin.key_block_value(k)[1] for k, _, _ in hot} == {0}, "the hot value is the blank block"
