"""A saved reference set of hashes to test new files against, without rescanning it.

A training set of millions is scanned once; its hashes and thumbnails go to a Parquet file (about
200 bytes per file before compression, 92 of them the coded ``thumb`` and 32 the ``thumb_signs``). Each new batch, or a test set,
is then checked against it with the rule of `recipe_audit.find_duplicates`: the window rule by
default (`recipe_audit.dedup.thumbmatch`), the single-hash search with `max_distance` or ``flips=False``.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path

import numpy as np
import polars as pl

import recipe_audit._core as _core
import recipe_audit.io.atomic as atomic
from recipe_audit.dedup import thumbmatch
from recipe_audit.dedup.rule import (
    SEARCH_COLUMNS,
    has_window_columns,
    mirror_hashes,
    search_radius,
    usable_rows,
    uses_window_rule,
)

_FORMAT_KEY = "recipe_audit.index"  # stored in saved files: never renamed
_FORMAT_VERSION = "1"


_OLDER_RELEASES = {
    "thumb_signs": "without the scan's thumb_signs: its matches through a window are not checked against "
    "the finer layout, so unrelated look-alikes may match",
    "std": "without the pictures' luma std: its flat pictures with detail (star fields) are taken for blank "
    "frames, so a copy of one may not match it and a blank frame may",
    "dark_frac": "without the pictures' share of near-black pixels: two different galaxies on black "
    "are held to the everyday sign bar, so they may match",
    "content_width": "whose thumbnails include flat borders (letterbox bars, a canvas): copies with such "
    "borders may not match, byte-identical files still do",
}
"""Scan columns an index saved by an earlier release may lack, and what that costs its matches."""


@dataclasses.dataclass(frozen=True)
class _Pictures:
    """One side of a window-rule search: its distinct pictures (`thumbmatch.distinct_pictures`:
    ``which`` maps each file to its picture), their shapes, sign maps and window hashes, in
    `thumbmatch.TILE_SIZE` chunks (start row, chunk)."""

    which: np.ndarray
    chunks: list[tuple[int, thumbmatch.Chunk]]

    @classmethod
    def of(cls, files: pl.DataFrame) -> _Pictures:
        shape = thumbmatch.shapes(files)
        pictures, which, first = thumbmatch.distinct_pictures(thumbmatch.thumbnails(files), shape)
        shape, signs = shape[first], thumbmatch.sign_maps(files)[first]
        size = thumbmatch.TILE_SIZE
        return cls(
            which,
            [
                (s, thumbmatch.chunk(pictures[s : s + size], shape[s : s + size], signs[s : s + size]))
                for s in range(0, len(pictures), size)
            ],
        )

    def __len__(self) -> int:
        return sum(len(chunk[0]) for _, chunk in self.chunks)


class DuplicateIndex:
    """The hashes of a reference set, queryable and saveable as Parquet.

    Broken files are left out. The Rust index for each hash, and the window rule's hashes of the
    indexed pictures, are built on the first query (a second at most for a million files; the
    window hashes about 2 CPU-minutes and 2 KB a picture) and kept for the next ones.

    Example:
        >>> DuplicateIndex(recipe_audit.scan("train/")).save("train.index.parquet")   # doctest: +SKIP
        >>> DuplicateIndex.load("train.index.parquet").query(recipe_audit.scan("new/"))  # doctest: +SKIP
    """

    def __init__(self, files: pl.DataFrame) -> None:
        usable = usable_rows(files, "phash")
        self._files = usable.select([c for c in SEARCH_COLUMNS if c in usable.columns]).sort("path")
        self._built: dict[str, _core.HammingIndex] = {}
        self._pictures: _Pictures | None = None

    @property
    def files(self) -> pl.DataFrame:
        """The indexed files: path, content_hash, the hashes, width, height, and label/split if
        known (read-only: what the first query builds from them is kept)."""
        return self._files

    def __len__(self) -> int:
        return self.files.height

    def __getstate__(self) -> dict[str, object]:
        # What the queries built is a cache (the Rust index cannot be pickled): a copy, or a worker
        # process it is sent to, builds its own on its first query.
        return {"_files": self._files}

    def __setstate__(self, state: dict[str, object]) -> None:
        self._files = state["_files"]  # type: ignore[assignment]
        self._built = {}
        self._pictures = None

    def __repr__(self) -> str:
        return f"DuplicateIndex({len(self):,} files)"

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index as one Parquet file (the scan columns it needs, nothing else)."""
        # Whole or not at all: a second job may be loading it (polars maps the file it reads).
        atomic.replace_with(
            path, lambda partial: self.files.write_parquet(partial, metadata={_FORMAT_KEY: _FORMAT_VERSION})
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> DuplicateIndex:
        """Read an index written by `save`."""
        if not Path(path).is_file():
            raise FileNotFoundError(
                f"no index file at {os.fspath(path)!r}; write one with DuplicateIndex(files).save(path)"
            )
        try:
            metadata = pl.read_parquet_metadata(os.fspath(path))
        except (pl.exceptions.PolarsError, OSError):  # an image, a CSV, a truncated file
            metadata = {}
        if metadata.get(_FORMAT_KEY) != _FORMAT_VERSION:
            raise ValueError(
                f"{os.fspath(path)!r} is not a recipe_audit index; write one with DuplicateIndex(files).save(path)"
            )
        try:
            files = pl.read_parquet(os.fspath(path))
        except (pl.exceptions.PolarsError, OSError) as error:
            raise ValueError(f"{os.fspath(path)!r} is a damaged index ({error}); write it again") from None
        for column, consequence in _OLDER_RELEASES.items():
            if "thumb" in files.columns and column not in files.columns:
                warnings.warn(
                    f"{os.fspath(path)!r} was saved by an earlier release, {consequence}; rebuild the index "
                    "from a new scan",
                    stacklevel=2,
                )
        return cls(files.with_columns(status=pl.lit("ok")))

    def _searcher(self, hash: str, radius: int) -> _core.HammingIndex:
        built = self._built.get(hash)
        if built is None or built.radius_max < radius:
            built = _core.HammingIndex(self.files[hash].to_numpy(), radius)
            self._built[hash] = built
        return built

    def query(
        self,
        new: pl.DataFrame,
        *,
        hash: str = "phash",
        max_distance: int | None = None,
        flips: bool | None = None,
        max_matches: int = 10,
        crops: bool | None = None,
        max_pairs: int = 10_000_000,
    ) -> pl.DataFrame:
        """New files with a copy in the index: exact (same bytes), near, or mirrored.

        The rule is `find_duplicates`': the window rule when both frames have the ``thumb``
        column and neither `max_distance` nor ``flips=False`` nor another `hash` is given (then
        ``distance`` is informative and matches are ordered by correlation), else the
        single-hash search within `max_distance` bits.

        Args:
            new: the scan frame of the files to test.
            hash: ``phash`` (default), ``dhash`` or ``ahash``.
            max_distance: bits for the single-hash search; default `DEFAULT_MAX_DISTANCE[hash]`.
            flips: the window rule finds mirror images; with the single-hash search, ``True``
                also matches the mirror image of each new file (pHash only).
            max_matches: at most this many indexed matches listed per file (all are counted).
            crops: ``False`` selects the single-hash search (as in `find_duplicates`).
            max_pairs: with the window rule, at most this many (new, indexed) file pairs are
                matched; past it a ValueError says how many (20,000 blank frames against 20,000
                are 4e8 pairs). Identical pictures on either side are searched once.

        Returns:
            One row per new file with a match: ``path``, ``kind`` (``exact`` when an indexed file
            has the same bytes; ``flip`` when the nearest match is to the mirror image; else
            ``near``), ``distance`` (pHash bits to the best match, or to its mirror image),
            ``match_path`` (the best: byte-identical first, then the nearest or most correlated),
            ``match_count`` (every indexed file that matches), ``match_paths`` (the best
            `max_matches`), and ``label`` /
            ``split`` / ``match_label`` / ``match_split`` where known. Sorted by path.

        Example:
            >>> index = DuplicateIndex(recipe_audit.scan("train/"))                     # doctest: +SKIP
            >>> index.query(recipe_audit.scan("test/")).filter(pl.col("distance") == 0)  # doctest: +SKIP
        """
        if max_matches < 1:
            raise ValueError(f"max_matches must be at least 1, not {max_matches}")
        window = uses_window_rule(new, hash, max_distance, crops, flips)
        if window and crops and "thumb" not in self.files.columns:
            raise ValueError("crops=True needs the index's thumb column; build the index from a scan by this version")
        if window and "thumb" in self.files.columns:
            queries = usable_rows(new, "phash")
            return self._finish(self._window_matches(queries, max_matches, max_pairs), queries)
        if flips and hash != "phash":
            raise ValueError("flips=True needs hash='phash' (the scan stores the mirror image's pHash only)")
        radius = search_radius(hash, max_distance)
        queries = usable_rows(new, hash)
        searcher = self._searcher(hash, radius)
        mirrors = mirror_hashes(queries, hash) if flips else None
        # One more than asked: a file in both sets finds itself, and is then dropped.
        q, j, d, mirrored, counts = searcher.nearest(queries[hash].to_numpy(), radius, max_matches + 1, mirrors)
        nearest = pl.DataFrame(
            {"q": pl.Series(q), "j": pl.Series(j), "distance": pl.Series(d), "mirrored": pl.Series(mirrored)}
        ).cast({"q": pl.UInt32, "j": pl.UInt32, "distance": pl.UInt8})
        # The nearest list is cut at max_matches by distance alone, so the byte-identical files
        # (always at distance 0) are joined in apart, to come first whatever the ties.
        same_bytes = self._same_bytes(queries).select("q", "j", distance=pl.lit(0, pl.UInt8), mirrored=pl.lit(False))
        candidates = pl.concat([same_bytes, nearest]).unique(["q", "j"], keep="first")
        listed = (
            candidates.join(self.files.select("path", "content_hash").with_row_index("j"), on="j")
            .join(queries.select("path", "content_hash").with_row_index("q"), on="q", suffix="_query")
            .filter(pl.col("path") != pl.col("path_query"))
            # Nearest first; among equals the byte-identical file, then by path.
            .sort("q", "distance", pl.col("content_hash") != pl.col("content_hash_query"), "path")
            .group_by("q", maintain_order=True)
            .agg(
                pl.col("distance", "mirrored").first(),
                match_path=pl.col("path").first(),
                match_paths=pl.col("path").head(max_matches),
            )
        )
        # The core counts every match within the radius; a file's own row (when its hash there is
        # within the radius: the file may have changed since it was indexed) is not one.
        own = (
            queries.select("path", hash)
            .with_row_index("q")
            .join(self.files.select("path", pl.col(hash).alias("indexed")), on="path", how="left")
            .select(
                (pl.col(hash).xor(pl.col("indexed")).bitwise_count_ones() <= radius).fill_null(False).cast(pl.UInt32)
            )
            .to_series()
        )
        count = pl.DataFrame({"match_count": pl.Series(counts, dtype=pl.UInt32) - own}).with_row_index("q")
        return self._finish(listed.join(count, on="q"), queries)

    def _same_bytes(self, queries: pl.DataFrame) -> pl.DataFrame:
        """(``q``, ``j``): rows of `queries` and of the index with the same bytes, whatever else
        either row lacks (a thumbnail measured by an earlier release)."""
        return (
            queries.select("content_hash")
            .with_row_index("q")
            .join(self.files.select("content_hash").with_row_index("j"), on="content_hash")
            .select("q", "j")
        )

    def _window_matches(self, queries: pl.DataFrame, max_matches: int, max_pairs: int) -> pl.DataFrame:
        """Per query row ``q`` with a match: the window rule's matches, best first. Rows without
        a thumbnail (measured by an earlier release) on either side match by their bytes only."""
        searched = np.flatnonzero(queries.select(has_window_columns()).to_series().to_numpy()).astype(np.uint32)
        # The indexed side needs its thumbnail only (its mirror image is never searched).
        in_index = np.flatnonzero(self.files["thumb"].is_not_null().to_numpy()).astype(np.uint32)
        indexed = self.files[in_index]
        # Identical pictures (thumbnail and hue) are searched once on each side, then expanded; the
        # indexed side's pictures and window hashes are made once for every query. The search runs
        # in tiles of a chunk of each side, so memory stays that of one tile.
        if self._pictures is None:
            self._pictures = _Pictures.of(indexed)
        mine, theirs = _Pictures.of(queries[searched]), self._pictures
        q_which, i_which = mine.which, theirs.which
        found_parts, listed = [], 0
        for q_start, q_chunk in mine.chunks:
            for i_start, i_chunk in theirs.chunks:
                try:
                    # The flat pairs' budget is what the tiles before left of max_pairs.
                    part = thumbmatch.chunk_pairs_across(q_chunk, i_chunk, max_flat_pairs=max_pairs - listed)
                except thumbmatch.TooManyPairs as error:
                    raise ValueError(self._too_many(listed + error.count, max_pairs)) from None
                listed += part.height
                if listed > max_pairs:
                    raise ValueError(self._too_many(listed, max_pairs))
                found_parts.append(
                    part.with_columns(pl.col("a") + q_start, pl.col("b") + i_start).cast(
                        {"a": pl.UInt32, "b": pl.UInt32}
                    )
                )
        empty = pl.DataFrame(schema={"a": pl.UInt32, "b": pl.UInt32, "correlation": pl.Float32, "mirrored": pl.Boolean})
        found = pl.concat([empty, *found_parts], how="vertical_relaxed")
        q_size, i_size = (
            np.bincount(q_which, minlength=len(mine)),
            np.bincount(i_which, minlength=len(theirs)),
        )
        # Byte-identical files always match, whichever releases measured their thumbnails.
        same_bytes = self._same_bytes(queries).select(
            "q", "j", correlation=pl.lit(1.0, pl.Float32), mirrored=pl.lit(False)
        )
        total = int((q_size[found["a"].to_numpy()] * i_size[found["b"].to_numpy()]).sum())
        if total + same_bytes.height > max_pairs:
            raise ValueError(self._too_many(total + same_bytes.height, max_pairs))
        # Pictures to rows: q and j number the rows of `queries` and of the whole index.
        pairs = (
            found.join(pl.DataFrame({"a": q_which.astype(np.uint32), "q": searched}), on="a")
            .join(pl.DataFrame({"b": i_which.astype(np.uint32), "j": in_index}), on="b")
            .select("q", "j", "correlation", "mirrored")
        )
        pairs = pl.concat([same_bytes, pairs], how="vertical_relaxed").unique(["q", "j"], keep="first")
        query_side = queries.select("path", "content_hash", "phash", pl.coalesce("phash_mirror", "phash"))
        return (
            pairs.join(query_side.with_row_index("q"), on="q")
            .join(
                self.files.select(
                    pl.col("path").alias("match_path"),
                    pl.col("content_hash").alias("match_hash"),
                    pl.col("phash").alias("match_phash"),
                ).with_row_index("j"),
                on="j",
            )
            .filter(pl.col("path") != pl.col("match_path"))  # a file in both sets is not its own copy
            .with_columns(
                distance=pl.when("mirrored")
                .then(pl.col("phash_mirror"))
                .otherwise(pl.col("phash"))
                .xor(pl.col("match_phash"))
                .bitwise_count_ones()
                .cast(pl.UInt8),
            )
            # Byte-identical first, then the most correlated (flat pictures count as 1), then by path.
            .sort(
                "q",
                pl.col("content_hash") != pl.col("match_hash"),
                pl.col("correlation").fill_null(1.0),
                "match_path",
                descending=[False, False, True, False],
            )
            .group_by("q", maintain_order=True)
            .agg(
                pl.col("distance", "mirrored").first(),
                pl.col("match_path").first(),
                match_paths=pl.col("match_path").head(max_matches),
                match_count=pl.len().cast(pl.UInt32),
            )
        )

    @staticmethod
    def _too_many(count: int, max_pairs: int) -> str:
        return (
            f"the new files match {count:,} indexed files in all, over max_pairs={max_pairs:,} (blank frames or "
            "many copies of one picture on both sides); pass a larger max_pairs knowingly, or run find_duplicates "
            "on both sets together (it groups files without listing pairs)"
        )

    def _finish(self, listed: pl.DataFrame, queries: pl.DataFrame) -> pl.DataFrame:
        """The result frame from the per-query matches (``q``, ``distance``, ``mirrored``,
        ``match_path``, ``match_paths``, ``match_count``)."""
        own = [c for c in ("label", "split") if c in queries.columns]
        theirs = [c for c in ("label", "split") if c in self.files.columns]
        best = self.files.select(
            pl.col("path").alias("match_path"),
            pl.col("content_hash").alias("match_hash"),
            *[pl.col(c).alias(f"match_{c}") for c in theirs],
        )
        # Only the columns the result shows: a manifest's extra columns may be named like them.
        result = (
            queries.select("path", "content_hash", *own)
            .with_row_index("q")
            .join(listed, on="q")
            .join(best, on="match_path", how="left")
            # Byte-identical matches come first, so the best match says whether there is one (a
            # file's own row, in both sets, is not a match).
            .with_columns(
                kind=pl.when(pl.col("content_hash") == pl.col("match_hash"))
                .then(pl.lit("exact"))
                .when("mirrored")
                .then(pl.lit("flip"))
                .otherwise(pl.lit("near"))
            )
        )
        return result.select(
            "path",
            "kind",
            "distance",
            "match_path",
            "match_count",
            "match_paths",
            *own,
            *[f"match_{c}" for c in theirs],
        ).sort("path")


__all__ = ["DuplicateIndex"]
