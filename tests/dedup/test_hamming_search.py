"""The Rust Hamming-radius search returns exactly what brute force returns, on real photo hashes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import recipe_audit
from recipe_audit import _core


def _brute_pairs(a: np.ndarray, b: np.ndarray | None, radius: int) -> set[tuple[int, int, int]]:
    other = a if b is None else b
    x = np.bitwise_xor(a[:, None], other[None, :])
    bits = np.unpackbits(x.view(np.uint8), axis=1).reshape(len(a), len(other), 64).sum(axis=2)
    i, j = np.nonzero(bits <= radius)
    keep = i < j if b is None else np.ones_like(i, dtype=bool)
    return {(int(p), int(q), int(bits[p, q])) for p, q in zip(i[keep], j[keep])}


@pytest.fixture(scope="module")
def photo_hashes(photos: list[Path]) -> np.ndarray:
    """pHashes of real photos plus near copies (1-12 flipped bits) and exact copies."""
    real = recipe_audit.scan(photos[0].parent, progress=False)["phash"].to_numpy()
    rng = np.random.default_rng(5)
    copies = []
    for k, h in enumerate(real[:40]):
        flips = rng.choice(64, size=k % 13, replace=False)
        copies.append(int(h) ^ int(sum(1 << int(f) for f in flips)))
    return np.concatenate([real, np.array(copies, dtype=np.uint64), real[:5]]).astype(np.uint64)


@pytest.mark.parametrize("radius", [0, 1, 4, 8, 10, 12])
def test_pairs_equal_brute_force(photo_hashes: np.ndarray, radius: int) -> None:
    i, j, d = _core.hamming_pairs(photo_hashes, radius)
    assert set(zip(i.tolist(), j.tolist(), d.tolist())) == _brute_pairs(photo_hashes, None, radius)
    assert list(zip(i, j)) == sorted(zip(i, j))


def test_pairs_across_equal_brute_force(photo_hashes: np.ndarray) -> None:
    queries, index = photo_hashes[:50], photo_hashes[50:]
    i, j, d = _core.hamming_pairs_across(queries, index, 8)
    assert set(zip(i.tolist(), j.tolist(), d.tolist())) == _brute_pairs(queries, index, 8)


def test_groups_are_components(photo_hashes: np.ndarray) -> None:
    groups = _core.hamming_groups(photo_hashes, 6)
    parent = list(range(len(photo_hashes)))

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    for p, q, _ in _brute_pairs(photo_hashes, None, 6):
        a, b = sorted((find(p), find(q)))
        parent[b] = a
    expected = [min(k for k in range(len(parent)) if find(k) == find(n)) for n in range(len(parent))]
    assert groups.tolist() == expected


def test_hundred_thousand_identical_hashes_form_one_group() -> None:
    hashes = np.full(100_000, 0x0123_4567_89AB_CDEF, dtype=np.uint64)
    groups = _core.hamming_groups(hashes, 10)
    assert (groups == 0).all()


def test_radius_over_64_is_misuse() -> None:
    with pytest.raises(ValueError, match="over 64"):
        _core.hamming_groups(np.zeros(3, dtype=np.uint64), 65)
