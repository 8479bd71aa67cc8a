"""Multi-index hashing as a join: the block layout, the keys each hash emits, and the buckets.

Cut a 64-bit hash into ``m`` blocks. Two hashes within ``r`` bits differ by at most
``floor(r / m)`` bits in one of the blocks (pigeonhole), so with ``m * (p + 1) > r`` every pair
within ``r`` shares a key ``(block, value)`` once each hash also emits its block values with up to
``p`` bits flipped. Grouping by key is a shuffle any engine does; each group (a *bucket*) is then
searched exactly in Rust (`_core.hamming_forest_in_buckets`). This module holds the pure parts,
without an engine, so they are tested against brute force on their own.

>>> layout = choose_layout(n=100_000_000, radius=10)
>>> layout.blocks, layout.probe_bits, layout.keys_per_hash
(11, 0, 11)
>>> keys = emit_keys(np.array([0x0123456789ABCDEF], dtype=np.uint64), layout)
>>> len(keys)
11
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from math import comb

import numpy as np

BITS = 64

# Cost model behind `choose_layout` (seconds), from `_core.hamming_groups` on this 2-core machine:
# uniform hashes at radius 10 took 0.08 s for 200k and 0.73 s for 800k, ~ n^1.5.
_SEARCH_SECONDS_AT_1M = 1.0
_SEARCH_EXPONENT = 1.5
# Emitting, shuffling and sorting one key (16 bytes plus an id) through an engine.
_SECONDS_PER_KEY = 5e-8


@dataclass(frozen=True)
class BlockLayout:
    """How hashes are cut into blocks for one radius.

    Attributes:
        radius: the largest Hamming distance the join finds (all pairs within it, exactly).
        widths: bits in each block, low bits first; they sum to 64.
        probe_bits: each hash also emits each block value with up to this many bits flipped.
    """

    radius: int
    widths: tuple[int, ...]
    probe_bits: int

    @property
    def blocks(self) -> int:
        return len(self.widths)

    @property
    def shifts(self) -> tuple[int, ...]:
        return tuple(int(s) for s in np.cumsum((0, *self.widths[:-1])))

    @property
    def keys_per_hash(self) -> int:
        """Keys each hash emits: one per block and probe pattern (the shuffle's volume)."""
        return sum(_probes(w, self.probe_bits) for w in self.widths)

    def expected_bucket(self, n: int) -> float:
        """Mean bucket size for `n` uniform hashes (real hashes are skewed: see the join's report)."""
        return max(n * _probes(w, self.probe_bits) / 2.0**w for w in self.widths)

    def describe(self) -> str:
        return (
            f"{self.blocks} blocks of {'/'.join(map(str, sorted(set(self.widths))))} bits, {self.probe_bits}-bit probes"
        )


def _probes(width: int, flips: int) -> int:
    return sum(comb(width, k) for k in range(min(flips, width) + 1))


def _even_widths(blocks: int) -> tuple[int, ...]:
    base, wider = divmod(BITS, blocks)
    return tuple(base + 1 if i < wider else base for i in range(blocks))


def layout_cost(layout: BlockLayout, n: int) -> float:
    """Modelled seconds: emitting and shuffling every key, plus searching every bucket."""
    search = 0.0
    for width in layout.widths:
        bucket = n * _probes(width, layout.probe_bits) / 2.0**width
        buckets = min(2.0**width, n * _probes(width, layout.probe_bits))
        search += buckets * _SEARCH_SECONDS_AT_1M * (max(bucket, 1.0) / 1e6) ** _SEARCH_EXPONENT
    return n * layout.keys_per_hash * _SECONDS_PER_KEY + search


def choose_layout(n: int, radius: int, *, max_probe_bits: int = 2) -> BlockLayout:
    """The cheapest exact layout for `n` distinct hashes and `radius` under the cost model.

    For each probe depth ``p`` the fewest blocks that keep the join exact are
    ``ceil((radius + 1) / (p + 1))``; more blocks only add keys and widen buckets. Radius 10
    gives 11 blocks of 5-6 bits without probes, the cheapest at every size checked here.

    >>> choose_layout(1_000_000, 3).describe()
    '4 blocks of 16 bits, 0-bit probes'
    """
    if not 0 <= radius < BITS:
        raise ValueError(f"radius must be between 0 and 63 bits for a block join, not {radius}")
    candidates = []
    for probe_bits in range(max_probe_bits + 1):
        blocks = max(2, -(-(radius + 1) // (probe_bits + 1)))  # keys hold 32-bit values
        if probe_bits == 0 or probe_bits < BITS // blocks:
            candidates.append(BlockLayout(radius, _even_widths(blocks), probe_bits))
    return min(candidates, key=lambda layout: layout_cost(layout, max(n, 1)))


def _flip_masks(width: int, flips: int) -> np.ndarray:
    masks = [0]
    for k in range(1, min(flips, width) + 1):
        masks += [sum(1 << b for b in bits) for bits in combinations(range(width), k)]
    return np.array(masks, dtype=np.uint64)


def emit_keys(hashes: np.ndarray, layout: BlockLayout) -> np.ndarray:
    """Every key of every hash, block-major: ``keys[j * len(hashes) + i]`` belongs to hash ``i``
    (``j`` runs over blocks and probe patterns). A key is ``block << 32 | value``.
    """
    hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
    parts = []
    for block, (shift, width) in enumerate(zip(layout.shifts, layout.widths)):
        value = (hashes >> np.uint64(shift)) & np.uint64((1 << width) - 1)
        tag = np.uint64(block << 32)
        parts += [(value ^ mask) | tag for mask in _flip_masks(width, layout.probe_bits)]
    return np.concatenate(parts) if parts else np.zeros(0, np.uint64)


def partition_of(keys: np.ndarray, partitions: int) -> np.ndarray:
    """The reduce task each key goes to: a multiplicative hash, so neighbouring block values and
    the blocks themselves spread over all partitions."""
    mixed = (keys * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32)
    # 16 bits where they suffice: the map side's stable sort of them is a radix sort (3-8x faster)
    target: np.ndarray = (mixed % np.uint64(partitions)).astype(np.uint16 if partitions <= 1 << 16 else np.int64)
    return target


def default_partitions(keys: int, cpus: int) -> int:
    """Reduce tasks for a join of `keys` keys on `cpus` CPUs: two per CPU, and ~8M keys each at most."""
    return max(2 * cpus, -(-keys // 8_000_000))


@dataclass(frozen=True)
class Buckets:
    """Rows sorted by key, cut where the key changes."""

    keys: np.ndarray
    hashes: np.ndarray
    ids: np.ndarray
    offsets: np.ndarray  # uint64, len(buckets) + 1

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.offsets).astype(np.int64)

    def select(self, which: np.ndarray) -> Buckets:
        """Only the buckets where `which` is true, still contiguous."""
        sizes = self.sizes
        rows = np.repeat(which, sizes)
        return Buckets(
            self.keys[rows],
            self.hashes[rows],
            self.ids[rows],
            np.concatenate(([0], np.cumsum(sizes[which]))).astype(np.uint64),
        )


def bucket(keys: np.ndarray, hashes: np.ndarray, ids: np.ndarray) -> Buckets:
    """Group rows by key (a sort, then the boundaries)."""
    order = np.argsort(keys, kind="stable")
    keys, hashes, ids = keys[order], hashes[order], ids[order]
    starts = np.flatnonzero(np.diff(keys)) + 1 if len(keys) else np.zeros(0, np.int64)
    offsets = np.concatenate(([0], starts, [len(keys)])).astype(np.uint64) if len(keys) else np.zeros(1, np.uint64)
    return Buckets(keys, hashes, ids.astype(np.uint32), offsets)


def key_block_value(key: int) -> tuple[int, int]:
    """``(block, value)`` of a key, for reports."""
    return int(key) >> 32, int(key) & 0xFFFFFFFF
