"""What a source stands for, as one sorted table, and the scan rows of any slice of it.

A listing has one row per file to audit: ``path`` (as shown in the frame), ``label``, ``split``,
``version`` (what says the file changed: ``size:mtime_ns:ctime_ns`` locally, the ETag in a store;
null when unknown), ``status``/``error`` for entries refused without reading (FIFOs, missing manifest
entries...), ``_where`` (``local`` or the store's URL), ``_key`` (the local path or the object key)
``_raw`` (a local file's path as bytes: what opens it, which ``path`` cannot be turned back into
when a name is not UTF-8) and a manifest's extra columns. `scan_rows` turns any slice of it into rows of the scan frame,
so the whole source, one shard of a long run or one worker's batch all go through one function.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import polars as pl

import recipe_audit._core as _core
import recipe_audit.thumbcode as thumbcode
from recipe_audit.io.sources import (
    IN_FLIGHT,
    Bucket,
    Manifest,
    fetch_batches,
    head_object,
    is_uri,
    list_objects,
    open_bucket,
    split_uri,
)
from recipe_audit.schema import MAX_BYTES, MAX_PIXELS, MIN_DECODE_SIDE, SCAN_SCHEMA, PathLike, frame_from_columns

LISTING_COLUMNS = ("path", "label", "split", "version", "status", "error", "_where", "_key", "_raw")


@dataclass
class Settings:
    """The scan's knobs, shared by every slice (and part of a run's fingerprint)."""

    recursive: bool = True
    threads: int | None = None
    max_pixels: int = MAX_PIXELS
    max_bytes: int = MAX_BYTES
    min_decode_side: int = MIN_DECODE_SIDE
    storage_options: Mapping[str, str] | None = None

    def fingerprint(self) -> str:
        """The settings, the measures' revision, the thumbnail code's and the frame's columns: a
        shard written with other columns or measured otherwise (an older release without
        `sharpness`, or with raw thumbnails, say) is never reused, so a rerun reads those files
        again."""
        columns = ",".join(f"{name}:{dtype}" for name, dtype in SCAN_SCHEMA.items())
        return (
            f"recursive={self.recursive} max_pixels={self.max_pixels} max_bytes={self.max_bytes} "
            f"min_decode_side={self.min_decode_side} core={_core.__version__} "
            f"measures={_core.MEASURES_REVISION} thumb_code={thumbcode.REVISION} columns={columns}"
        )


def local_sources(source: PathLike | Sequence[PathLike]) -> list[str]:
    """The paths a local source names (one path, or a non-empty list), checked to exist."""
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        try:
            os.lstat(path)
        except FileNotFoundError:
            raise FileNotFoundError(
                f"scan: {path!r} does not exist; pass a directory, a file or a list of paths"
            ) from None
        except PermissionError:
            raise PermissionError(f"scan: {path!r} cannot be reached: permission denied on a folder above it") from None
        return [path]
    if isinstance(source, (bytes, bytearray)):
        raise TypeError("scan: pass paths as str or pathlib.Path, not bytes")
    paths = [os.fspath(p) for p in source]
    if not paths:
        raise ValueError("scan: the list of paths is empty")
    return paths


def _local(paths: Sequence[str], recursive: bool) -> pl.DataFrame:
    columns = _core.list_files(list(paths), recursive=recursive)
    frame = pl.DataFrame(
        columns,
        schema={
            "path": pl.String,
            "key": pl.Binary,
            "label": pl.String,
            "split": pl.String,
            "size": pl.UInt64,
            "mtime_ns": pl.Int64,
            "ctime_ns": pl.Int64,
            "status": pl.String,
            "error": pl.String,
        },
    )
    # The ctime too: a rewrite whose mtime was set back (touch -d, rsync -t, tar), or two files of
    # one size and mtime swapped by renaming, keep size and mtime but not the ctime.
    version = pl.format("{}:{}:{}", "size", "mtime_ns", "ctime_ns")
    return frame.select(
        "path",
        "label",
        "split",
        pl.when(pl.col("size").is_not_null()).then(version).alias("version"),
        "status",
        "error",
        pl.lit("local").alias("_where"),
        pl.col("path").alias("_key"),
        pl.col("key").alias("_raw"),
    )


def _objects(uri: str, options: Mapping[str, str] | None) -> tuple[pl.DataFrame, Bucket]:
    bucket = open_bucket(uri, options)
    _, prefix = split_uri(uri)
    objects = list_objects(bucket, prefix)
    stem = prefix if prefix.endswith("/") or not prefix else prefix + "/"
    # The walk's ImageFolder rule (rust/walk.rs), on the keys below the prefix.
    labels, splits = _core.image_folder_labels(objects["key"].str.strip_prefix(stem).to_list())
    frame = objects.select(
        (pl.lit(bucket.url.rstrip("/") + "/") + pl.col("key")).alias("path"),
        pl.Series("label", labels, dtype=pl.String),
        pl.Series("split", splits, dtype=pl.String),
        pl.col("etag").alias("version"),
        pl.lit(None, pl.String).alias("status"),
        pl.lit(None, pl.String).alias("error"),
        pl.lit(bucket.url).alias("_where"),
        pl.col("key").alias("_key"),
        pl.lit(None, pl.Binary).alias("_raw"),
    )
    return frame, bucket


def _manifest(manifest: Manifest, settings: Settings, buckets: dict[str, Bucket]) -> pl.DataFrame:
    table = manifest.read().with_row_index("_row")
    local = table.filter(~pl.col("path").str.contains("://"))
    remote = table.filter(pl.col("path").str.contains("://"))
    parts = []
    if local.height:
        found = _local(local["path"].to_list(), recursive=False).drop("label", "split")
        joined = local.join(found, on="path", how="left")
        # A listed folder is walked by list_files into its files, so it has no row of its own.
        parts.append(
            joined.with_columns(
                status=pl.when(pl.col("_where").is_null()).then(pl.lit("unreadable")).otherwise("status"),
                error=pl.when(pl.col("_where").is_null())
                .then(pl.lit("listed path is a directory, not a file"))
                .otherwise("error"),
                _where=pl.col("_where").fill_null("local"),
                _key=pl.col("_key").fill_null(pl.col("path")),
            )
        )
    # An inventory's ETag column (S3 Inventory's `e_tag`) versions the objects, so the shard
    # workers need no HEAD request each (1e8 of them for a lake of 1e8 objects).
    etag = next((c for c in table.columns if c.lower() in ("etag", "e_tag")), None)
    if etag and not (table[etag].dtype == pl.String or table[etag].dtype.is_integer()):
        raise ValueError(f"Manifest: the {etag!r} column must hold ETags (strings), not {table[etag].dtype}")
    version = pl.col(etag).cast(pl.String) if etag else pl.lit(None, pl.String)
    for url in remote["path"].str.extract(r"^([^:]+://[^/]+)").unique().sort():
        buckets.setdefault(url, open_bucket(url, settings.storage_options))
        rows = remote.filter(pl.col("path").str.starts_with(url + "/"))
        parts.append(
            rows.with_columns(
                version=version,
                status=pl.lit(None, pl.String),
                error=pl.lit(None, pl.String),
                _where=pl.lit(url),
                _key=pl.col("path").str.strip_prefix(url + "/"),
                _raw=pl.lit(None, pl.Binary),
            )
        )
    listed = pl.concat(
        [p.select(list(LISTING_COLUMNS) + [c for c in table.columns if c not in LISTING_COLUMNS]) for p in parts],
        how="vertical_relaxed",
    )
    return listed.sort("_row").drop("_row")


def build_listing(source: Any, settings: Settings) -> tuple[pl.DataFrame, dict[str, Bucket]]:
    """The sorted listing of a local path or list, an object-store URI, or a `Manifest`; and the
    stores it reads from (keyed by URL)."""
    buckets: dict[str, Bucket] = {}
    if isinstance(source, Manifest):
        listing = _manifest(source, settings, buckets)
    elif is_uri(source):
        listing, bucket = _objects(source, settings.storage_options)
        buckets[bucket.url] = bucket
    else:
        listing = _local(local_sources(source), settings.recursive)
    return listing.sort("path", maintain_order=True), buckets


def with_object_versions(
    listing: pl.DataFrame, buckets: Mapping[str, Bucket], pool: ThreadPoolExecutor
) -> pl.DataFrame:
    """Fill the unknown versions of objects (a manifest's URIs: a listing of a prefix has ETags
    already) with their ETags, one HEAD request each, `IN_FLIGHT` at a time, so a resumed or
    incremental run knows what changed without reading the bodies. An object that is not
    there becomes a ``missing`` row here; a failed HEAD leaves the version unknown (read again)."""
    unknown = pl.col("version").is_null() & pl.col("status").is_null() & (pl.col("_where") != "local")
    todo = listing.with_row_index("_row").filter(unknown)
    if not todo.height:
        return listing
    heads = list(
        pool.map(
            lambda where_key: head_object(buckets[where_key[0]], where_key[1]),
            todo.select("_where", "_key").iter_rows(),
        )
    )
    found = todo.select("_row").with_columns(
        pl.Series("_version", [h[0] for h in heads], dtype=pl.String),
        pl.Series("_status", [h[1] for h in heads], dtype=pl.String),
        pl.Series("_error", [h[2] for h in heads], dtype=pl.String),
    )
    return (
        listing.with_row_index("_row")
        .join(found, on="_row", how="left")
        .with_columns(
            version=pl.coalesce("version", "_version"),
            status=pl.coalesce("status", "_status"),
            error=pl.coalesce("error", "_error"),
        )
        .drop("_row", "_version", "_status", "_error")
    )


def scan_rows(
    listing: pl.DataFrame, buckets: Mapping[str, Bucket], settings: Settings, pool: ThreadPoolExecutor | None = None
) -> pl.DataFrame:
    """Rows of the scan frame (plus ``version`` and a manifest's extra columns) for `listing`'s
    entries, in its order. Local files are read by the Rust core; objects are fetched
    `IN_FLIGHT` at a time and handed to the same per-file pipeline as bytes."""
    listing = listing.with_row_index("_row")
    parts = []
    refused = listing.filter(pl.col("status").is_not_null())
    if refused.height:
        parts.append(
            refused.select(
                "_row",
                "path",
                "status",
                "error",
                bytes=pl.lit(0, pl.UInt64),
                format=pl.lit("unknown"),
                ext_mismatch=pl.lit(False),
            )
        )
    local = listing.filter(pl.col("status").is_null() & (pl.col("_where") == "local"))
    if local.height:
        # One row per entry, in its order and under its listed name (a manifest may list a file
        # twice; a name that is not UTF-8 is shown escaped but opened by its key).
        raw = local["_raw"].to_list()
        columns = _core.scan_listed(
            [key if path_bytes is None else os.fsdecode(path_bytes) for key, path_bytes in zip(local["_key"], raw)],
            local["path"].to_list(),
            threads=settings.threads,
            max_pixels=settings.max_pixels,
            max_bytes=settings.max_bytes,
            min_decode_side=settings.min_decode_side,
        )
        parts.append(frame_from_columns(columns).drop("label", "split").with_columns(local["_row"]))
    remote = listing.filter(pl.col("status").is_null() & (pl.col("_where") != "local"))
    if remote.height:
        own_pool = pool or ThreadPoolExecutor(IN_FLIGHT)
        try:
            for url, group in remote.group_by("_where", maintain_order=True):
                parts.append(_scan_objects(group, buckets[url[0]], settings, own_pool))
        finally:
            if pool is None:
                own_pool.shutdown()
    schema = {"_row": pl.UInt32, **SCAN_SCHEMA}
    rows = pl.concat(
        [
            p.select([pl.col(c).cast(t) if c in p.columns else pl.lit(None, t).alias(c) for c, t in schema.items()])
            for p in parts
        ],
        how="vertical",
    )
    meta = listing.select(
        "_row", "label", "split", "version", *[c for c in listing.columns if c not in LISTING_COLUMNS and c != "_row"]
    )
    return (
        rows.drop("label", "split")
        .join(meta, on="_row", how="left")
        .sort("_row")
        .select(*SCAN_SCHEMA, *[c for c in meta.columns if c not in SCAN_SCHEMA and c != "_row"])
    )


def _scan_objects(group: pl.DataFrame, bucket: Bucket, settings: Settings, pool: ThreadPoolExecutor) -> pl.DataFrame:
    """Rows for one store's objects, decoded a batch at a time as the next batch downloads."""
    out = []
    ids = group.select("_row", "path").rows()
    done = 0
    for batch in fetch_batches(bucket, group["_key"].to_list(), settings.max_bytes, pool):
        names, blobs, rows, failed = [], [], [], []
        for (row, path), (_, blob, status, error) in zip(ids[done : done + len(batch)], batch):
            if blob is None:
                failed.append(
                    {
                        "_row": row,
                        "path": path,
                        "status": status,
                        "error": error,
                        "bytes": 0,
                        "format": "unknown",
                        "ext_mismatch": False,
                    }
                )
            else:
                names.append(path)
                blobs.append(blob)
                rows.append(row)
        done += len(batch)
        if names:
            scanned = frame_from_columns(
                _core.scan_bytes(
                    names,
                    blobs,
                    threads=settings.threads,
                    max_pixels=settings.max_pixels,
                    min_decode_side=settings.min_decode_side,
                )
            )
            out.append(scanned.with_columns(_row=pl.Series(rows, dtype=pl.UInt32)))
        if failed:
            out.append(pl.DataFrame(failed))
    return pl.concat(out, how="diagonal_relaxed")
