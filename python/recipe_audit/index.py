"""A saved reference set of hashes to test new files against, without rescanning it.

A training set of millions is scanned once; its hashes go to a small Parquet file (about 60 bytes
per file before compression). Each new batch, or a test set, is then checked against it with the
exact multi-index search in Rust.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from recipe_audit import _core
from recipe_audit.duplicates import _radius, _usable

_KEPT = ("path", "content_hash", "ahash", "dhash", "phash", "phash_mirror", "width", "height", "label", "split")
_FORMAT_KEY = "recipe_audit.index"
_FORMAT_VERSION = "1"


class DuplicateIndex:
    """The hashes of a reference set, queryable and saveable as Parquet.

    Broken files are left out. The Rust index for each hash is built on the first query (a
    second at most for a million files) and kept for the next ones.

    Example:
        >>> DuplicateIndex(recipe_audit.scan("train/")).save("train.index.parquet")   # doctest: +SKIP
        >>> DuplicateIndex.load("train.index.parquet").query(recipe_audit.scan("new/"))  # doctest: +SKIP
    """

    def __init__(self, files: pl.DataFrame) -> None:
        usable = _usable(files, "phash")
        self.files: pl.DataFrame = usable.select([c for c in _KEPT if c in usable.columns]).sort("path")
        """The indexed files: path, content_hash, the hashes, width, height, and label/split if known."""
        self._built: dict[str, _core.HammingIndex] = {}

    def __len__(self) -> int:
        return self.files.height

    def __repr__(self) -> str:
        return f"DuplicateIndex({len(self):,} files)"

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index as one Parquet file (the scan columns it needs, nothing else)."""
        self.files.write_parquet(path, metadata={_FORMAT_KEY: _FORMAT_VERSION})

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> DuplicateIndex:
        """Read an index written by `save`."""
        if not Path(path).is_file():
            raise FileNotFoundError(f"no index file at {os.fspath(path)!r}; write one with DuplicateIndex(files).save(path)")
        if pl.read_parquet_metadata(path).get(_FORMAT_KEY) != _FORMAT_VERSION:
            raise ValueError(f"{os.fspath(path)!r} is not a recipe_audit index; write one with DuplicateIndex(files).save(path)")
        files = pl.read_parquet(path)
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
        flips: bool = False,
        max_matches: int = 10,
    ) -> pl.DataFrame:
        """New files with a copy in the index: exact (same bytes), near, or mirrored (``flips``).

        Args:
            new: the scan frame of the files to test.
            hash: ``phash`` (default), ``dhash`` or ``ahash``.
            max_distance: bits; default `DEFAULT_MAX_DISTANCE[hash]`.
            flips: also match the horizontal mirror image of each new file (pHash only).
            max_matches: at most this many indexed matches listed per file (all are counted).

        Returns:
            One row per new file with a match: ``path``, ``kind`` (``exact`` when an indexed file
            has the same bytes; ``flip`` when the nearest match is to the mirror image; else
            ``near``), ``distance`` (bits to the nearest match), ``match_path`` (the nearest; the
            byte-identical one first on a tie), ``match_count`` (every indexed file within
            ``max_distance``), ``match_paths`` (the nearest `max_matches`), and ``label`` /
            ``split`` / ``match_label`` / ``match_split`` where known. Sorted by path.

        Example:
            >>> index = DuplicateIndex(recipe_audit.scan("train/"))                     # doctest: +SKIP
            >>> index.query(recipe_audit.scan("test/")).filter(pl.col("distance") == 0)  # doctest: +SKIP
        """
        if flips and hash != "phash":
            raise ValueError("flips=True needs hash='phash' (the scan stores the mirror image's pHash only)")
        if max_matches < 1:
            raise ValueError(f"max_matches must be at least 1, not {max_matches}")
        radius = _radius(hash, max_distance)
        queries = _usable(new, hash)
        searcher = self._searcher(hash, radius)
        mirrors = queries["phash_mirror"].to_numpy() if flips else None
        q, j, d, mirrored, counts = searcher.nearest(queries[hash].to_numpy(), radius, max_matches, mirrors)
        listed = (
            pl.DataFrame({"q": pl.Series(q), "j": pl.Series(j), "distance": pl.Series(d), "mirrored": pl.Series(mirrored)})
            .join(self.files.select("path", "content_hash").with_row_index("j"), on="j")
            .join(queries.select("content_hash").with_row_index("q"), on="q", suffix="_query")
            # Nearest first; among equals the byte-identical file, then by path.
            .sort("q", "distance", pl.col("content_hash") != pl.col("content_hash_query"), "path")
            .group_by("q", maintain_order=True)
            .agg(
                pl.col("distance", "mirrored").first(),
                match_path=pl.col("path").first(),
                match_paths=pl.col("path"),
            )
        )
        result = (
            queries.with_row_index("q")
            .with_columns(match_count=pl.Series(counts, dtype=pl.UInt32))
            .join(listed, on="q")
            .with_columns(
                kind=pl.when(pl.col("content_hash").is_in(self.files["content_hash"].implode()))
                .then(pl.lit("exact"))
                .when("mirrored")
                .then(pl.lit("flip"))
                .otherwise(pl.lit("near"))
            )
        )
        own = [c for c in ("label", "split") if c in queries.columns]
        theirs = [c for c in ("label", "split") if c in self.files.columns]
        if theirs:
            result = result.join(
                self.files.select("path", *[pl.col(c).alias(f"match_{c}") for c in theirs]),
                left_on="match_path",
                right_on="path",
                how="left",
            )
        return result.select(
            "path", "kind", "distance", "match_path", "match_count", "match_paths", *own, *[f"match_{c}" for c in theirs]
        ).sort("path")


__all__ = ["DuplicateIndex"]
