"""Train/test leaks and conflicting labels: duplicate groups read against splits and labels."""

from __future__ import annotations

import polars as pl

from recipe_audit.dedup.duplicates import find_duplicates
from recipe_audit.dedup.rule import TRAIN_SPLIT
from recipe_audit.schema import require_columns


def _with_labels(files: pl.DataFrame, dups: pl.DataFrame | None, needed: str) -> pl.DataFrame:
    require_columns(files, (needed,), hint="scan an ImageFolder layout or join a manifest first")
    dups = find_duplicates(files) if dups is None else dups
    mirror = pl.col("phash_mirror") if "phash_mirror" in files.columns else pl.lit(None, pl.UInt64)
    measured = files.select("path", "label", "split", "phash", mirror.alias("phash_mirror"), "content_hash")
    # One row per file: a frame concatenated with itself must not square the listing.
    return dups.select("path", "group", "kind").join(measured.unique("path", keep="first"), on="path")


def find_leaks(files: pl.DataFrame, dups: pl.DataFrame | None = None, *, max_twins: int = 10) -> pl.DataFrame:
    """Files outside the train split that have a duplicate inside it: the test score's lie.

    Args:
        files: the frame `recipe_audit.scan` returns (with a ``split`` column).
        dups: the result of `find_duplicates` (computed with its defaults when omitted).
        max_twins: at most this many train twins listed per file (a blank frame can have 100,000).

    Returns:
        One row per leaking file: ``path``, ``split``, ``group``, ``kind`` (``exact`` when a twin has
        the same bytes), ``train_paths`` (list, first `max_twins` by path), ``train_count``,
        ``distance`` (bits to the nearest listed twin, or to its mirror image when that is closer).
        Sorted by path.

    Raises:
        ValueError: `max_twins` is not a whole number of at least 1.

    Example:
        >>> leaks = recipe_audit.find_leaks(recipe_audit.scan("data/"))   # doctest: +SKIP
    """
    if isinstance(max_twins, bool) or not isinstance(max_twins, int) or max_twins < 1:
        raise ValueError(f"max_twins must be a whole number of at least 1, not {max_twins!r}")
    members = _with_labels(files, dups, "split")
    is_train = pl.col("split") == TRAIN_SPLIT
    twins = (
        members.filter(is_train)
        .sort("path")
        .group_by("group")
        .agg(
            train_paths=pl.col("path").head(max_twins),
            train_hashes=pl.col("phash").head(max_twins),
            train_bytes=pl.col("content_hash").drop_nulls().unique(),
            train_count=pl.len().cast(pl.UInt32),
        )
    )
    leaks = members.filter(pl.col("split").is_not_null() & ~is_train).join(twins, on="group")
    # Bits to the nearest listed twin, or to its mirror image where that is closer (a flipped copy).
    nearest = (
        leaks.select("path", "phash", "phash_mirror", "train_hashes")
        .explode("train_hashes")
        .group_by("path")
        .agg(
            distance=pl.min_horizontal(
                (pl.col("phash") ^ pl.col("train_hashes")).bitwise_count_ones(),
                (pl.col("phash_mirror") ^ pl.col("train_hashes")).bitwise_count_ones(),
            )
            .min()
            .cast(pl.UInt8)
        )
    )
    return (
        leaks.join(nearest, on="path")
        .with_columns(
            # Exact: a train file has this file's very bytes (not merely some exact pair in the group).
            kind=pl.when(pl.col("train_bytes").list.contains(pl.col("content_hash")).fill_null(False))
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


__all__ = ["find_leaks", "find_label_conflicts"]
