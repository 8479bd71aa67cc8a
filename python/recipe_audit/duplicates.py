"""Exact and near duplicates, train/test leaks and conflicting labels, from the `scan` frame.

The search is exact (`_core.hamming_groups`: every pair within the radius, as brute force would
find, grouped transitively) and runs in Rust on all cores with the GIL released.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from recipe_audit import _core, thumbmatch

if TYPE_CHECKING:
    from recipe_audit.index import DuplicateIndex

HASHES = ("ahash", "dhash", "phash")
DEFAULT_MAX_DISTANCE = {"phash": 10, "ahash": 2, "dhash": 0}
"""Radius per hash for the single-hash search (`max_distance` given, `crops=False`, or another
hash): the largest radius with precision >= 0.99 in benches/dup_quality.py."""

TRAIN_SPLIT = "train"


def _usable(files: pl.DataFrame, hash: str) -> pl.DataFrame:
    if hash not in HASHES:
        raise ValueError(f"hash must be one of {HASHES}, not {hash!r}")
    missing = {"path", "status", "content_hash", hash} - set(files.columns)
    if missing:
        raise ValueError(f"files lacks the scan columns {sorted(missing)}; pass the frame recipe_audit.scan returns")
    return files.filter((pl.col("status") == "ok") & pl.col(hash).is_not_null())


def _windows_rule(files: pl.DataFrame, hash: str, max_distance: int | None, crops: bool | None,
                  flips: bool | None) -> bool:
    """Whether the default rule (`recipe_audit.thumbmatch`) applies, or the single-hash search."""
    if hash != "phash" or max_distance is not None or crops is False or flips is False:
        if crops:
            raise ValueError("crops=True is the default rule: it takes hash='phash', no max_distance and flips")
        return False
    if "thumb" not in files.columns:
        if crops:
            raise ValueError("crops=True needs the scan's thumb column; rescan the files with this version")
        return False
    return True


def _windows_usable(files: pl.DataFrame) -> pl.DataFrame:
    return _usable(files, "phash").filter(pl.col("thumb").is_not_null() & pl.col("phash_mirror").is_not_null())


def _radius(hash: str, max_distance: int | None) -> int:
    radius = DEFAULT_MAX_DISTANCE[hash] if max_distance is None else max_distance
    if not 0 <= radius <= 64:
        raise ValueError(f"max_distance must be between 0 and 64 bits, not {max_distance!r}")
    return radius


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
) -> pl.DataFrame:
    """Group near copies of one picture, transitively; broken files left out.

    The default rule (`recipe_audit.thumbmatch`) finds copies that were cropped (off-centre too),
    turned by a few degrees, mirrored, watermarked, re-lit, re-encoded, resized or blurred: each
    file's whole picture and mirror image against 55 windows of every other file's 16x16
    thumbnail (pHash-like hashes within 10 bits), each candidate confirmed by the correlation of
    the two pictures' DCT coefficients. Flat pictures match only flat pictures of the same level.
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
        against: a reference set (a scan frame, or a `DuplicateIndex` loaded from Parquet): then
            only copies of reference files are reported, one row per file of `files` (see
            `DuplicateIndex.query` for the columns; `max_matches` bounds each listing).

    Returns:
        One row per file that has at least one duplicate: ``path``, ``group`` (0, 1, ... in the
        order of each group's first path: stable for the same input), ``kind`` (``exact``: another
        member has the same bytes; ``flip``: closer to the representative's mirror image than to
        the representative; ``near``: linked by hash distance), ``distance`` (bits to the group's
        representative, or to its mirror image for ``flip``), ``representative`` (the file to
        keep: most pixels, then shortest path, then first path), plus ``label`` and ``split`` when
        the frame has them. Sorted by group, then path.

    Example:
        >>> dups = recipe_audit.find_duplicates(recipe_audit.scan("data/"))   # doctest: +SKIP
        >>> dups.filter(~pl.col("representative")).select("path")              # doctest: +SKIP
    """
    if against is not None:
        from recipe_audit.index import DuplicateIndex

        index = against if isinstance(against, DuplicateIndex) else DuplicateIndex(against)
        return index.query(files, hash=hash, max_distance=max_distance, flips=flips, max_matches=max_matches, crops=crops)
    extra = [c for c in ("label", "split") if c in files.columns]
    if _windows_rule(files, hash, max_distance, crops, flips):
        usable = _windows_usable(files)
        roots = thumbmatch.matched_groups(thumbmatch.thumbnails(usable), thumbmatch.shapes(usable))
        return _groups_frame(usable, roots, hash=hash, exact=exact, flips=True, extra=extra)
    if flips and hash != "phash":
        raise ValueError("flips=True needs hash='phash' (the scan stores the mirror image's pHash only)")
    usable = _usable(files, hash)
    radius = _radius(hash, max_distance)
    if flips:
        roots = _core.hamming_groups_with_mirrors(usable[hash].to_numpy(), usable["phash_mirror"].to_numpy(), radius)
    else:
        roots = _core.hamming_groups(usable[hash].to_numpy(), radius)
    return _groups_frame(usable, roots, hash=hash, exact=exact, flips=bool(flips), extra=extra)


def _groups_frame(usable: pl.DataFrame, roots: object, *, hash: str, exact: bool, flips: bool,
                  extra: list[str]) -> pl.DataFrame:
    """`find_duplicates`' frame from each usable row's component root (however it was searched)."""
    mirror = ["phash_mirror"] if flips else []
    grouped = (
        usable.select("path", "content_hash", hash, *mirror, "width", "height", *extra)
        .with_columns(root=pl.Series(roots), pixels=pl.col("width").cast(pl.UInt64) * pl.col("height"))
        .filter(pl.len().over("root") > 1)
    )
    representatives = (
        grouped.sort(["pixels", pl.col("path").str.len_bytes(), "path"], descending=[True, False, False], nulls_last=True)
        .group_by("root", maintain_order=True)
        .first()
        .select("root", rep_path=pl.col("path"), rep_hash=pl.col(hash))
    )
    same_bytes = pl.len().over("root", "content_hash") > 1
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
    if _windows_rule(files, hash, max_distance, None, None):
        return _window_pairs(files, max_pairs)
    usable = _usable(files, hash)
    radius = _radius(hash, max_distance)
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
    usable = _windows_usable(files)
    thumbs = thumbmatch.thumbnails(usable)
    shape = thumbmatch.shapes(usable)
    roots = pl.Series(thumbmatch.matched_groups(thumbs, shape))
    sizes = roots.value_counts()["count"].cast(pl.UInt64)
    bound = int((sizes * (sizes - 1) // 2).sum())
    if bound > max_pairs:
        raise ValueError(
            f"the duplicate groups could hold {bound:,} pairs, over max_pairs={max_pairs:,}; "
            "use find_duplicates (it lists files, not pairs), or pass a larger max_pairs"
        )
    pairs = thumbmatch.matched_pairs(thumbs, shape)
    paths, hashes, mirrors = usable["path"], usable["phash"], usable["phash_mirror"]
    a, b = pl.Series(pairs["a"]), pl.Series(pairs["b"])
    direct = (hashes.gather(a) ^ hashes.gather(b)).bitwise_count_ones().to_numpy()
    flipped = (mirrors.gather(a) ^ hashes.gather(b)).bitwise_count_ones().to_numpy()
    return (
        pl.DataFrame({"a": paths.gather(a), "b": paths.gather(b), "distance": np.minimum(direct, flipped),
                      "correlation": pairs["correlation"]})
        .select(
            path_a=pl.min_horizontal("a", "b"),
            path_b=pl.max_horizontal("a", "b"),
            distance=pl.col("distance").cast(pl.UInt8),
            correlation="correlation",
        )
        .sort("path_a", "path_b")
    )


def _with_labels(files: pl.DataFrame, dups: pl.DataFrame | None, needed: str) -> pl.DataFrame:
    if needed not in files.columns:
        raise ValueError(f"files has no {needed!r} column; scan an ImageFolder layout or join a manifest first")
    dups = find_duplicates(files) if dups is None else dups
    return dups.select("path", "group", "kind").join(files.select("path", "label", "split", "phash"), on="path")


def find_leaks(files: pl.DataFrame, dups: pl.DataFrame | None = None, *, max_twins: int = 10) -> pl.DataFrame:
    """Files outside the train split that have a duplicate inside it: the test score's lie.

    Args:
        files: the frame `recipe_audit.scan` returns (with a ``split`` column).
        dups: the result of `find_duplicates` (computed with its defaults when omitted).
        max_twins: at most this many train twins listed per file (a blank frame can have 100,000).

    Returns:
        One row per leaking file: ``path``, ``split``, ``group``, ``kind`` (``exact`` when a twin has
        the same bytes), ``train_paths`` (list, first `max_twins` by path), ``train_count``,
        ``distance`` (bits to the nearest listed twin). Sorted by path.

    Example:
        >>> leaks = recipe_audit.find_leaks(recipe_audit.scan("data/"))   # doctest: +SKIP
    """
    members = _with_labels(files, dups, "split")
    is_train = pl.col("split") == TRAIN_SPLIT
    twins = (
        members.filter(is_train)
        .sort("path")
        .group_by("group")
        .agg(
            train_paths=pl.col("path").head(max_twins),
            train_hashes=pl.col("phash").head(max_twins),
            train_kinds=pl.col("kind").head(max_twins),
            train_count=pl.len().cast(pl.UInt32),
        )
    )
    leaks = members.filter(pl.col("split").is_not_null() & ~is_train).join(twins, on="group")
    nearest = (
        leaks.select("path", "phash", "train_hashes")
        .explode("train_hashes")
        .group_by("path")
        .agg(distance=(pl.col("phash") ^ pl.col("train_hashes")).bitwise_count_ones().min().cast(pl.UInt8))
    )
    return (
        leaks.join(nearest, on="path")
        .with_columns(
            kind=pl.when((pl.col("kind") == "exact") & pl.col("train_kinds").list.contains("exact"))
            .then(pl.lit("exact"))
            .otherwise(pl.lit("near"))
        )
        .select("path", "split", "group", "kind", "train_paths", "train_count", "distance")
        .sort("path")
    )


def find_label_conflicts(files: pl.DataFrame, dups: pl.DataFrame | None = None) -> pl.DataFrame:
    """Duplicate groups whose members carry different labels: label noise you can prove.

    Returns:
        One row per member of each conflicting group: ``group``, ``path``, ``label``, ``split``,
        ``kind``, ``labels`` (every distinct label in the group, sorted). Sorted by group, path.

    Example:
        >>> conflicts = recipe_audit.find_label_conflicts(recipe_audit.scan("data/"))  # doctest: +SKIP
    """
    members = _with_labels(files, dups, "label")
    labels = pl.col("label").drop_nulls().unique().sort()
    return (
        members.with_columns(labels=labels.implode().over("group"))
        .filter(pl.col("labels").list.len() > 1)
        .select("group", "path", "label", "split", "kind", "labels")
        .sort("group", "path")
    )


__all__ = ["find_duplicates", "duplicate_pairs", "find_leaks", "find_label_conflicts", "DEFAULT_MAX_DISTANCE"]
