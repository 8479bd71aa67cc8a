"""Exact and near duplicates, train/test leaks and conflicting labels, from the `scan` frame.

The search is exact (`_core.hamming_groups`: every pair within the radius, as brute force would
find, grouped transitively) and runs in Rust on all cores with the GIL released.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from recipe_audit import _core

if TYPE_CHECKING:
    from recipe_audit.index import DuplicateIndex

HASHES = ("ahash", "dhash", "phash")
DEFAULT_MAX_DISTANCE = {"phash": 10, "ahash": 2, "dhash": 0}
"""Defaults per hash: the largest radius with precision >= 0.99 in benches/dup_quality.py."""
CROP_WINDOW_DISTANCE = 8
"""With ``crops=True``: bits between one file's whole pHash and another's centre window."""
CROP_CONFIRM_DISTANCE = 24
"""With ``crops=True``: at most this many of 256 bits between the matched pictures' long pHashes."""

TRAIN_SPLIT = "train"


def _usable(files: pl.DataFrame, hash: str) -> pl.DataFrame:
    if hash not in HASHES:
        raise ValueError(f"hash must be one of {HASHES}, not {hash!r}")
    missing = {"path", "status", "content_hash", hash} - set(files.columns)
    if missing:
        raise ValueError(f"files lacks the scan columns {sorted(missing)}; pass the frame recipe_audit.scan returns")
    return files.filter((pl.col("status") == "ok") & pl.col(hash).is_not_null())


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
    flips: bool = False,
    against: pl.DataFrame | DuplicateIndex | None = None,
    max_matches: int = 10,
    crops: bool | None = None,
) -> pl.DataFrame:
    """Group files whose `hash` lies within `max_distance` bits, transitively; broken files left out.

    Args:
        files: the frame `recipe_audit.scan` returns.
        hash: ``phash`` (default; best recall at precision >= 0.99 in BENCHMARKS.md), ``ahash``
            or ``dhash``.
        max_distance: bits; default `DEFAULT_MAX_DISTANCE[hash]` (10 for pHash).
        exact: mark byte-identical members (same ``content_hash``) as ``exact``.
        flips: also join a file with the horizontal mirror image of another (pHash only): a
            flipped copy is a common train/test leak. Off by default: it doubles the chances of a
            false match.
        crops: (default: on when the frame has the scan's crop columns and `flips` is off)
            also catch copies cropped by a few percent per side, and drop look-alikes that one
            64-bit hash cannot tell apart (BENCHMARKS.md, "Crops"): candidates are files whose
            pHashes are within `max_distance`, or one's whole pHash within
            `CROP_WINDOW_DISTANCE` of the other's centre window (trimmed 2.5% or 5% per side);
            each is kept only when the 256-bit pHashes of the matched pictures are within
            `CROP_CONFIRM_DISTANCE` bits. pHash only; needs the scan's ``phash256`` column.
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
        return index.query(files, hash=hash, max_distance=max_distance, flips=flips, max_matches=max_matches)
    if flips and hash != "phash":
        raise ValueError("flips=True needs hash='phash' (the scan stores the mirror image's pHash only)")
    usable = _usable(files, hash)
    radius = _radius(hash, max_distance)
    extra = [c for c in ("label", "split") if c in files.columns]
    if crops is None:
        crops = hash == "phash" and not flips and {"phash256", "phash_trim2", "phash_trim5"} <= set(files.columns)
    if crops:
        if hash != "phash" or flips:
            raise ValueError("crops=True works on hash='phash' without flips")
        if not {"phash256", "phash_trim2", "phash_trim5"} <= set(files.columns):
            raise ValueError("crops=True needs the scan's phash256, phash_trim2 and phash_trim5 columns; rescan the files")
        usable = usable.filter(pl.col("phash256").is_not_null())
        roots = _crop_groups(usable, radius)
    elif flips:
        roots = _core.hamming_groups_with_mirrors(usable[hash].to_numpy(), usable["phash_mirror"].to_numpy(), radius)
    else:
        roots = _core.hamming_groups(usable[hash].to_numpy(), radius)
    return _groups_frame(usable, roots, hash=hash, exact=exact, flips=flips, extra=extra)


def crop_pairs(usable: pl.DataFrame, radius: int, window_distance: int = CROP_WINDOW_DISTANCE,
               confirm_distance: int = CROP_CONFIRM_DISTANCE) -> tuple[np.ndarray, np.ndarray]:
    """Row pairs (i, j) that ``crops=True`` links: whole-whole within `radius` or whole-window
    within `window_distance` (either way round), confirmed by the 256-bit pHashes of the matched
    pictures within `confirm_distance`. The exact Rust search finds the candidates."""
    whole = usable["phash"].to_numpy()
    long = np.frombuffer(b"".join(usable["phash256"].to_list()), dtype=">u8").reshape(-1, 3, 4).astype(np.uint64)
    found_a, found_b = [], []

    def confirm(a: np.ndarray, b: np.ndarray, slot_a: int, slot_b: int) -> None:
        keep = np.bitwise_count(long[a, slot_a] ^ long[b, slot_b]).sum(axis=1) <= confirm_distance
        found_a.append(a[keep])
        found_b.append(b[keep])

    i, j, _ = _core.hamming_pairs(whole, radius)
    confirm(i.astype(np.int64), j.astype(np.int64), 0, 0)
    for slot, column in ((1, "phash_trim2"), (2, "phash_trim5")):
        q, w, _ = _core.hamming_pairs_across(whole, usable[column].to_numpy(), window_distance)
        q, w = q.astype(np.int64), w.astype(np.int64)
        distinct = q != w
        confirm(q[distinct], w[distinct], 0, slot)
    return np.concatenate(found_a), np.concatenate(found_b)


def _crop_groups(usable: pl.DataFrame, radius: int) -> np.ndarray:
    a, b = crop_pairs(usable, radius)
    return _core.hamming_components(usable.height, a.astype(np.uint32), b.astype(np.uint32))


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
    """Every pair of usable files within `max_distance` bits: each link of `find_duplicates(crops=False)`.

    A group of k identical images has k(k-1)/2 pairs (100,000 blank frames: 5e9), so the result is
    capped: when the groups could hold more than `max_pairs` pairs (the bound sum k(k-1)/2 is
    computed without listing any), a ValueError says how many; use `find_duplicates` (which never
    lists pairs) for such data, or raise the cap knowingly.

    Returns:
        ``path_a``, ``path_b`` (``path_a < path_b``), ``distance`` (bits), sorted by both paths.

    Example:
        >>> pairs = recipe_audit.duplicate_pairs(recipe_audit.scan("data/"), max_distance=4)  # doctest: +SKIP
    """
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
