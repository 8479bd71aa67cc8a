"""`scan`: one pass over every image, in Rust on all cores, returned as a Polars frame."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Union, overload

import polars as pl

import recipe_audit._core as _core
from recipe_audit.io.datasets import ScanRun, run_to_dataset
from recipe_audit.io.listing import Settings, build_listing, local_sources, scan_rows
from recipe_audit.io.sources import Manifest, is_uri
from recipe_audit.schema import (
    MAX_BYTES,
    MAX_PIXELS,
    MIN_DECODE_SIDE,
    PathLike,
    empty_scan_frame,
    frame_from_columns,
)

Source = Union[PathLike, Sequence[PathLike], "Manifest"]


@overload
def scan(
    source: Source,
    *,
    recursive: bool = ...,
    threads: int | None = ...,
    progress: bool | None = ...,
    max_pixels: int = ...,
    max_bytes: int = ...,
    min_decode_side: int = ...,
    out: None = ...,
    shard_size: int = ...,
    storage_options: Mapping[str, str] | None = ...,
    engine: Any = ...,
) -> pl.DataFrame: ...
@overload
def scan(
    source: Source,
    *,
    recursive: bool = ...,
    threads: int | None = ...,
    progress: bool | None = ...,
    max_pixels: int = ...,
    max_bytes: int = ...,
    min_decode_side: int = ...,
    out: PathLike,
    shard_size: int = ...,
    storage_options: Mapping[str, str] | None = ...,
    engine: Any = ...,
) -> ScanRun: ...
def scan(
    source: Source,
    *,
    recursive: bool = True,
    threads: int | None = None,
    progress: bool | None = None,
    max_pixels: int = MAX_PIXELS,
    max_bytes: int = MAX_BYTES,
    min_decode_side: int = MIN_DECODE_SIDE,
    out: PathLike | None = None,
    shard_size: int = 50_000,
    storage_options: Mapping[str, str] | None = None,
    engine: Any = None,
) -> pl.DataFrame | ScanRun:
    """Scan images and return one row per file, sorted by path.

    Every file is read once and only read: its bytes hashed, its format sniffed from the magic
    bytes, the whole stream decoded strictly (a cut JPEG or PNG is ``truncated``, never ``ok``), and
    perceptual hashes and picture statistics computed on a small grayscale picture (JPEGs are
    decoded at reduced scale in the DCT domain). Broken files are rows, never exceptions.

    Args:
        source: a directory (walked; hidden entries skipped; symlinks followed, each directory
            once), a single file, or a list of files and directories; an object-store URI
            (``s3://bucket/prefix``: every object under it, listed page by page and read many at
            a time, ImageFolder labels from the keys); or a `Manifest` (exactly the files it
            lists, local or URIs, with its labels, splits and extra columns; an absent one is a
            ``missing`` row).
        recursive: walk sub-directories.
        threads: worker threads; ``None`` uses every core. The frame is identical for any value.
        progress: a progress bar on stderr; ``None`` shows it when stderr is a terminal.
        max_pixels: images whose header declares more pixels are ``too_large`` and are refused
            before any allocation (decompression-bomb guard).
        max_bytes: files larger than this are ``too_large`` and are not read.
        min_decode_side: the hashes and measures see a JPEG at the smallest DCT scale (1/8, 1/4,
            1/2) that keeps the shorter side at least this long (decoded one scale finer and
            averaged 2x2; the finer view serves ``sharpness_fine``). 64 puts 97% of photos within 4 bits of
            imagehash; a huge value (e.g. ``1 << 30``) decodes at full size for bit parity with
            imagehash on ~99% of files, at a few times the cost (BENCHMARKS.md).
        out: stream the rows to a Parquet dataset in this folder or object-store prefix instead
            of returning them: shards of `shard_size` files, each written once under a stable
            name, plus ``_run.json``. Running again resumes (complete shards are skipped) and
            re-reads only files whose size, mtime or ctime (or ETag) changed, and those that
            could not be read before; label, split and a manifest's columns come from this run.
            One run at a time writes a local dataset (`DatasetBusyError`). Returns a `ScanRun`.
        shard_size: files per shard with `out`.
        storage_options: object-store settings (``endpoint``, ``access_key_id``,
            ``secret_access_key``, ``region``...) over those from the environment.
        engine: run the shards of an `out` run elsewhere, e.g.
            ``recipe_audit.distributed.RayEngine(address="auto")``: one task per shard, the same
            dataset as a local run.

    Returns:
        Without `out`, a frame with the columns of `SCAN_SCHEMA` (a manifest's extra columns, and
        ``version``, follow for manifests and URIs):
        ``path`` (as given or found), ``bytes``, ``format`` (jpeg png gif webp bmp tiff unknown,
        from the bytes), ``ext_mismatch`` (the extension names another format), ``status`` (one
        of `STATUSES`), ``error`` (why, in words; null when ok), ``width``/``height`` (as displayed,
        after EXIF orientation; known from the header even for a truncated file), ``channels``
        (as stored: 1 gray, 2 gray+alpha, 3 color, 4 color+alpha or CMYK), ``content_hash`` (hex
        xxh3-128 of the bytes), ``ahash``/``dhash``/``phash`` (u64, defined as in the imagehash
        package: ``int(str(imagehash.phash(img)), 16)``), ``phash_mirror`` (the pHash of the
        horizontally mirrored image, for ``find_duplicates(flips=True)``), ``thumb`` (the 16x16
        gray thumbnail the default duplicate rule matches, stored as a 92-byte code:
        `recipe_audit.thumbcode`) and ``thumb_signs`` (the
        signs of a band-pass of the 64x64 square, 16x16 bits in 32 bytes: the finer layout a
        match through a window must agree on), ``mean``/``std`` (luma 0-255),
        ``dark_frac``/``bright_frac`` (share of pixels with luma <= 15 / >= 240),
        ``luma_p01``/``luma_p99`` (1st and 99th percentile of luma: the darkest and brightest
        parts), ``luma_p999`` (99.9th percentile: the brightest speck), ``blur``
        (deprecated: variance of the Laplacian on a 64x64 picture, low for blurry *or* merely
        flat pictures; use ``sharpness``), ``sharpness`` (share of the strong edges that are
        crisp, 0-1; null when a picture has fewer than 20 strong edges), ``sharpness_fine`` (the
        same one decode scale finer, taken only where ``sharpness`` is 0.5 or less, else null),
        ``sharpness_least``/``sharpness_gap``/``edge_balance`` (on that finer look: the crisp share
        along the softest of four directions, the share across it less that, and the strong edges
        along it per edge across it; a smear is soft one way only),
        ``colorfulness``
        (Hasler-Süsstrunk, 0 for any gray picture; null where not measured: CMYK, RGB-stored
        and lossless JPEGs, GIF), ``entropy`` (bits
        of the luma histogram, 0-8), ``aspect`` (width / height), ``label`` and ``split`` (from an
        ImageFolder layout ``root/<split>/<class>/file`` with split train/val/valid/test, else
        ``root/<class>/file``; null when the layout says nothing).

    Raises:
        FileNotFoundError: a single ``source`` that does not exist.
        ValueError: ``threads`` below 1, or an empty list.

    Example:
        >>> files = recipe_audit.scan("data/")                      # doctest: +SKIP
        >>> files.filter(pl.col("status") != "ok").select("path", "status", "error")  # doctest: +SKIP
    """
    if threads is not None and threads < 1:
        raise ValueError("scan: threads must be at least 1 (or None for all cores)")
    if progress is None:
        progress = sys.stderr.isatty()
    if engine is not None and out is None:
        raise ValueError("scan: engine= runs the shards of a dataset run; pass out= (a folder or bucket prefix) too")
    if out is not None or isinstance(source, Manifest) or is_uri(source):
        settings = Settings(recursive, threads, max_pixels, max_bytes, min_decode_side, storage_options)
        if out is not None:
            return run_to_dataset(
                source, os.fspath(out), settings, shard_size=shard_size, progress=progress, engine=engine
            )
        listing, buckets = build_listing(source, settings)
        return scan_rows(listing, buckets, settings) if listing.height else empty_scan_frame()
    frames: list[pl.DataFrame] = []
    _core.scan_paths(
        local_sources(source),
        recursive=recursive,
        threads=threads,
        progress=progress,
        max_pixels=max_pixels,
        max_bytes=max_bytes,
        min_decode_side=min_decode_side,
        # A frame per batch as it is done: Python holds one batch of per-cell objects at a time.
        on_batch=lambda columns: frames.append(frame_from_columns(columns)),
    )
    return pl.concat(frames, rechunk=True) if frames else empty_scan_frame()


def scan_bytes(names: Sequence[str], blobs: Sequence[bytes], *, threads: int | None = None) -> pl.DataFrame:
    """Run the same per-file pipeline on bytes already in memory; rows in input order.

    This is what object-store readers and distributed workers call; ``label`` and ``split`` are
    null (the caller knows where the bytes came from).

    Example:
        >>> data = Path("cat.jpg").read_bytes()                     # doctest: +SKIP
        >>> recipe_audit.scan_bytes(["cat.jpg"], [data])             # doctest: +SKIP
    """
    return frame_from_columns(_core.scan_bytes(list(names), list(blobs), threads=threads))


__all__ = ["scan", "scan_bytes"]
