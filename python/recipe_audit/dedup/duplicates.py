"""Exact and near duplicates from the `scan` frame: groups (`find_duplicates`) and pairs (`duplicate_pairs`).

The search is exact (`_core.hamming_groups`: every pair within the radius, as brute force would
find, grouped transitively) and runs in Rust on all cores with the GIL released.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import polars as pl

import recipe_audit._core as _core
from recipe_audit.dedup import thumbmatch
from recipe_audit.dedup.index import DuplicateIndex
from recipe_audit.dedup.rule import (
    groups_frame,
    mirror_hashes,
    search_radius,
    usable_rows,
    uses_window_rule,
    window_groups,
    window_rule_rows,
)


def find_duplicates(
    files: pl.DataFrame,
    *,
    hash: str = "phash",
    max_distance: int | None = None,
    exact: bool = True,
    flips: bool | None = None,
    against: pl.DataFrame | DuplicateIndex | None = None,
    max_matches: int = 10,
    crops: bool | None = None,
    progress: bool | None = None,
) -> pl.DataFrame:
    """Group near copies of one picture, transitively; broken files left out.

    The default rule (`recipe_audit.dedup.thumbmatch`) finds copies that were cropped (off-centre too),
    turned by a few degrees, mirrored, watermarked, re-lit, re-encoded, resized or blurred: each
    file's whole picture and mirror image against 55 windows of every other file's 16x16
    thumbnail (pHash-like hashes within 10 bits), each candidate confirmed by the correlation of
    the two pictures' DCT coefficients. Flat pictures match only flat pictures of the same level.
    A group that hangs on a few links between two densely linked families (a look-alike link
    between copies of two photographs) is cut there (`recipe_audit.dedup.cuts`), so groups are
    the transitive closure of the links except across such cuts; `duplicate_pairs` lists every
    link.
    Passing `max_distance`, another `hash`, ``crops=False`` or ``flips=False`` (or a frame without
    the ``thumb`` column) gives the single-hash search instead: files whose `hash` lies within
    `max_distance` bits.

    Args:
        files: the frame `recipe_audit.scan` returns.
        hash: ``phash`` (default), ``ahash`` or ``dhash`` (these two: single-hash search).
        max_distance: bits for the single-hash search; default `DEFAULT_MAX_DISTANCE[hash]`.
            Given, it selects the single-hash search.
        exact: mark byte-identical members (same ``content_hash``) as ``exact``.
        flips: mirror images are found by the default rule. ``False`` selects the single-hash
            search; ``True`` with the single-hash search also joins a file with the mirror image
            of another (pHash only).
        crops: ``False`` selects the single-hash search; ``True`` insists on the default rule
            (an error when the frame has no ``thumb`` column).
        progress: a line on stderr counting the default rule's tiles (`thumbmatch.TILE_SIZE`
            pictures a chunk) when there is more than one: a million pictures take tens of
            minutes. Default: when stderr is a terminal.
        against: a reference set (a scan frame, or a `DuplicateIndex` loaded from Parquet): then
            only copies of reference files are reported, one row per file of `files` (see
            `DuplicateIndex.query` for the columns; `max_matches` bounds each listing).

    Returns:
        One row per file that has at least one duplicate: ``path``, ``group`` (0, 1, ... in the
        order of each group's first path: stable for the same input), ``kind`` (``exact``: another
        member has the same bytes; ``flip``: closer to the representative's mirror image than to
        the representative; ``near``: linked by hash distance), ``distance`` (bits to the group's
        representative, or to its mirror image for ``flip``), ``representative`` (the file to
        keep: most pixels of content, inside flat borders, then shortest path, then first path),
        plus ``label`` and ``split`` when the frame has them. Sorted by group, then path. Files
        with the same bytes always share a group.

    Example:
        >>> dups = recipe_audit.find_duplicates(recipe_audit.scan("data/"))   # doctest: +SKIP
        >>> dups.filter(~pl.col("representative")).select("path")              # doctest: +SKIP
    """
    if against is not None:
        index = against if isinstance(against, DuplicateIndex) else DuplicateIndex(against)
        return index.query(
            files, hash=hash, max_distance=max_distance, flips=flips, max_matches=max_matches, crops=crops
        )
    extra = [c for c in ("label", "split") if c in files.columns]
    if uses_window_rule(files, hash, max_distance, crops, flips):
        show = TileProgress() if (sys.stderr.isatty() if progress is None else progress) else None

        def search(rows: pl.DataFrame) -> np.ndarray:
            return thumbmatch.matched_groups(
                thumbmatch.thumbnails(rows), thumbmatch.shapes(rows), signs=thumbmatch.sign_maps(rows), on_tile=show
            )

        return window_groups(files, search, hash=hash, exact=exact, extra=extra)
    if flips and hash != "phash":
        raise ValueError("flips=True needs hash='phash' (the scan stores the mirror image's pHash only)")
    usable = usable_rows(files, hash)
    radius = search_radius(hash, max_distance)
    if flips:
        roots = _core.hamming_groups_with_mirrors(usable[hash].to_numpy(), mirror_hashes(usable, hash), radius)
    else:
        roots = _core.hamming_groups(usable[hash].to_numpy(), radius)
    return groups_frame(usable, roots, hash=hash, exact=exact, flips=bool(flips), extra=extra)


class TileProgress:
    """``near duplicates: tile 12/300, 41 s`` on stderr, redrawn in place, when there is more
    than one tile; a newline after the last."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        if total < 2:
            return
        elapsed = time.monotonic() - self.start
        sys.stderr.write(f"\rnear duplicates: tile {done:,}/{total:,}, {elapsed:.0f} s")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def duplicate_pairs(
    files: pl.DataFrame,
    *,
    hash: str = "phash",
    max_distance: int | None = None,
    max_pairs: int = 10_000_000,
) -> pl.DataFrame:
    """Every pair of usable files the rule of `find_duplicates` links directly.

    With the default rule (the scan's ``thumb`` column, no `max_distance`), every pair matched
    through a window and confirmed, and every pair of flat pictures of one level; otherwise every
    pair within `max_distance` bits of `hash`.

    A group of k identical images has k(k-1)/2 pairs (100,000 blank frames: 5e9), so the result is
    capped: when the groups could hold more than `max_pairs` pairs (the bound sum k(k-1)/2 is
    computed without listing any), a ValueError says how many; use `find_duplicates` (which never
    lists pairs) for such data, or raise the cap knowingly.

    Returns:
        ``path_a``, ``path_b`` (``path_a < path_b``), ``distance`` (bits between the pHashes,
        or between one and the other's mirror image when that is closer), and with the default
        rule ``correlation`` (of the confirmed window; null for flat pictures); sorted by both
        paths.

    Example:
        >>> pairs = recipe_audit.duplicate_pairs(recipe_audit.scan("data/"), max_distance=4)  # doctest: +SKIP
    """
    if uses_window_rule(files, hash, max_distance, None, None):
        return _window_pairs(files, max_pairs)
    usable = usable_rows(files, hash)
    radius = search_radius(hash, max_distance)
    # Bound first through the groups, which list no pairs: k members hold at most k(k-1)/2.
    hashes = usable[hash].to_numpy()
    sizes = pl.Series(_core.hamming_groups(hashes, radius)).value_counts()["count"].cast(pl.UInt64)
    bound = int((sizes * (sizes - 1) // 2).sum())
    if bound > max_pairs:
        raise ValueError(
            f"the groups within {radius} bits could hold {bound:,} pairs, over max_pairs={max_pairs:,}; "
            "use find_duplicates (it lists files, not pairs), or pass a larger max_pairs"
        )
    i, j, d = _core.hamming_pairs(hashes, radius)
    paths = usable["path"]
    a, b = paths.gather(pl.Series(i)), paths.gather(pl.Series(j))
    return (
        pl.DataFrame({"a": a, "b": b, "distance": pl.Series(d)})
        .select(
            path_a=pl.min_horizontal("a", "b"),
            path_b=pl.max_horizontal("a", "b"),
            distance=pl.col("distance"),
        )
        .sort("path_a", "path_b")
    )


def _window_pairs(files: pl.DataFrame, max_pairs: int) -> pl.DataFrame:
    usable = window_rule_rows(files)
    thumbs, shape, signs = thumbmatch.thumbnails(usable), thumbmatch.shapes(usable), thumbmatch.sign_maps(usable)
    # Plain components (no cut): links across a cut are listed too, so only they bound the pairs.
    roots = pl.Series(thumbmatch.matched_groups(thumbs, shape, signs=signs, cut=False))
    sizes = roots.value_counts()["count"].cast(pl.UInt64)
    bound = int((sizes * (sizes - 1) // 2).sum())
    if bound > max_pairs:
        raise ValueError(
            f"the duplicate groups could hold {bound:,} pairs, over max_pairs={max_pairs:,}; "
            "use find_duplicates (it lists files, not pairs), or pass a larger max_pairs"
        )
    pairs = thumbmatch.matched_row_pairs(thumbs, shape, signs=signs)
    paths, hashes, mirrors = usable["path"], usable["phash"], usable["phash_mirror"]
    a, b = pl.Series(pairs["a"]), pl.Series(pairs["b"])

    # Either way round through the mirror image, so the distance does not depend on which row is a;
    # an unknown mirror hash (a row from an earlier release) leaves the direct distance.
    def bits(x: pl.Series, y: pl.Series) -> np.ndarray:
        return np.asarray((x ^ y).bitwise_count_ones().cast(pl.Float64).to_numpy())  # NaN where unknown

    direct = bits(hashes.gather(a), hashes.gather(b))
    flipped = np.fmin(bits(mirrors.gather(a), hashes.gather(b)), bits(hashes.gather(a), mirrors.gather(b)))
    return (
        pl.DataFrame(
            {
                "a": paths.gather(a),
                "b": paths.gather(b),
                "distance": np.fmin(direct, flipped),
                "correlation": pairs["correlation"],
            }
        )
        .select(
            path_a=pl.min_horizontal("a", "b"),
            path_b=pl.max_horizontal("a", "b"),
            distance=pl.col("distance").cast(pl.UInt8),
            correlation="correlation",
        )
        .sort("path_a", "path_b")
    )


__all__ = ["find_duplicates", "duplicate_pairs"]
