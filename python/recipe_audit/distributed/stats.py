"""What a distributed near-duplicate join did: the record `RayEngine.last_join` keeps."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from recipe_audit.dedup import blockjoin


@dataclass(frozen=True)
class JoinStats:
    """What a distributed near-duplicate join did (``engine.last_join``).

    Attributes:
        layout: the block layout (`recipe_audit.dedup.blockjoin.choose_layout`).
        hashes: distinct hashes joined (identical hashes collapsed first).
        keys: block keys shuffled (``hashes * layout.keys_per_hash``).
        buckets: distinct keys.
        largest_bucket: hashes under the most common key.
        candidate_pairs: pairs inside the buckets searched in reduce tasks: the most that
            could be verified by popcount (the indexed search checks far fewer).
        map_tasks, reduce_tasks, tile_tasks: tasks run; tiles are the salted hot buckets.
        hot_keys: one row per hot key: ``block``, ``value``, ``hashes``, ``tiles``.
        largest_group: distinct hashes in the largest group (set by `find_duplicates`). One
            group holding a large share of a big set means unrelated images chain at this
            radius (docs/scale.md: at 1e8 images radius 10 links ~470 unrelated ones each).
    """

    layout: blockjoin.BlockLayout
    hashes: int
    keys: int
    buckets: int
    largest_bucket: int
    candidate_pairs: int
    map_tasks: int
    reduce_tasks: int
    tile_tasks: int
    hot_keys: pl.DataFrame = field(repr=False)
    largest_group: int | None = None


__all__ = ["JoinStats"]
