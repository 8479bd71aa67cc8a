"""Large outputs: a scan streamed to a Parquet dataset in shards, resumable and incremental.

The sorted listing is cut into shards of `shard_size` entries. Shard k is written once, under
``part-{k:05d}-{digest}.parquet`` where the digest covers the shard's entries (path, version,
label, split, a manifest's extra columns) and the scan settings: a rerun finds the same name and
skips the shard (resume after a crash or Ctrl-C costs only the shards in flight); a shard whose
files changed gets a new name, and only its changed files are read again (the measured columns of
rows whose path and version match the previous run are copied; label, split and a manifest's
columns always come from this run's listing). A file that could not be read (``unreadable``,
``missing``) is never taken from an earlier run: it may read next time. Every shard is written
under a temporary name and renamed (locally) or put in one request (object stores), so no half
shard is ever visible. ``_run.json`` records the configuration, the source, the shard names and
counts; readers use exactly the shards it lists. One run writes a local dataset at a time (a lock
on its ``.lock``); a damaged record or shard is set aside with a warning and computed again.

>>> run = recipe_audit.scan("data/", out="audit/files")          # doctest: +SKIP
>>> run.files.filter(pl.col("status") != "ok").collect()         # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from recipe_audit.io.dataset_folder import (
    FORMAT_VERSION,
    RUN_RECORD,
    DatasetFolder,
    previous_record,
    remove_orphans,
    remove_stale,
    without_own_files,
)
from recipe_audit.io.listing import LISTING_COLUMNS, Settings, build_listing, scan_rows, with_object_versions
from recipe_audit.io.sources import (
    IN_FLIGHT,
    Manifest,
    env_options,
    is_uri,
    open_bucket,
)
from recipe_audit.schema import SCAN_SCHEMA

TRANSIENT = ("unreadable", "missing")
"""Statuses that may read otherwise next time, with nothing changed in the file's version (a
permission fixed, a disk that answered, a file that came back): never reused."""


@dataclass
class ScanRun:
    """What `scan(..., out=...)` did: the dataset it left and how much of it was reused.

    Attributes:
        out: the dataset's folder or object-store prefix.
        shards: the shard files (full paths or URIs) that make up the dataset, in path order.
        rows: rows in the dataset (one per listed file).
        shards_written: shards computed in this run; the others were already complete.
        rows_reused: rows copied from an earlier run's shards because the file had not changed.
        rows_read: files read and decoded in this run.
    """

    out: str
    shards: list[str]
    rows: int
    shards_written: int
    rows_reused: int
    rows_read: int
    storage_options: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def files(self) -> pl.LazyFrame:
        """The whole dataset as a lazy frame (columns of `SCAN_SCHEMA` plus ``version`` and any
        manifest columns), sorted by path; nothing is loaded until collected."""
        if not self.shards:
            return pl.LazyFrame(schema={**SCAN_SCHEMA, "version": pl.String})
        return pl.scan_parquet(self.shards, storage_options=self.storage_options or None)

    def summary(self) -> str:
        return (
            f"{self.rows:,} files in {len(self.shards)} shards at {self.out}: {self.shards_written} shards "
            f"written, {self.rows_read:,} files read, {self.rows_reused:,} rows reused"
        )


def _as_text(column: pl.Series) -> str:
    """A manifest column's values as one text for the digest, losslessly: JSON lines (floats in
    full, text escaped, null as null), or the values' hashes for a type JSON cannot hold."""
    try:
        return column.to_frame().write_ndjson()
    except pl.exceptions.PolarsError:
        return str(column.hash(seed=0).cast(pl.String).str.join("\n").item())


def _digest(entries: pl.DataFrame, settings: Settings) -> str:
    h = hashlib.blake2b(digest_size=8)
    h.update(settings.fingerprint().encode())
    extras = sorted(c for c in entries.columns if c not in LISTING_COLUMNS)
    for column in ("path", "version", "label", "split"):
        h.update(b"\0" + column.encode() + b"\0")
        text = entries[column].fill_null("\x01").str.join("\n").item()
        h.update(text.encode("utf-8", "surrogatepass"))
    for column in extras:
        h.update(f"\0{column}:{entries[column].dtype}\0".encode())
        h.update(_as_text(entries[column]).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def _complete(target: DatasetFolder, leaf: str, entries: pl.DataFrame) -> bool:
    """True when the shard `leaf` is there whole, a row for each of `entries`, none of which must
    be read again: a damaged shard, or one a copy cut short, is written again, and so is one with
    a file that could not be read which this run's listing would read (not one it refuses itself,
    like an object its HEAD request found missing)."""
    if not target.exists(leaf):
        return False
    try:
        rows = pl.read_parquet(
            target.name(leaf), columns=["path", "status"], storage_options=target.polars_options() or None
        )
    except (pl.exceptions.PolarsError, OSError):
        return False
    retry = rows.filter(pl.col("status").is_in(TRANSIENT))["path"]
    readable = entries.filter(pl.col("status").is_null() & pl.col("path").is_in(retry.implode()))
    return rows.height == entries.height and not readable.height


def _reusable(
    previous: dict[str, Any] | None, target: DatasetFolder, shard: pl.DataFrame, settings: Settings
) -> pl.DataFrame | None:
    """The measured columns (and ``path``, ``version``) of the previous run's rows for the files of
    `shard` whose version has not changed, one per path, when that run had these settings and
    columns (`Settings.fingerprint`): rows of another release or another ``min_decode_side`` are
    read again, never mixed in, and so are files that could not be read (`TRANSIENT`)."""
    if not previous or previous.get("settings") != settings.fingerprint():
        return None
    first, last = shard["path"][0], shard["path"][-1]
    old = [s["name"] for s in previous["shards"] if not (s["last"] < first or s["first"] > last)]
    keys = shard.filter(pl.col("version").is_not_null() & pl.col("status").is_null()).select("path", "version")
    measured = [c for c in SCAN_SCHEMA if c not in ("label", "split")]
    parts = []
    for leaf in old:
        if not target.exists(leaf):
            continue
        try:
            parts.append(
                pl.scan_parquet(target.name(leaf), storage_options=target.polars_options() or None)
                .join(keys.lazy(), on=["path", "version"], how="semi")
                .filter(~pl.col("status").is_in(TRANSIENT))
                .select(*measured, "version")
                .collect()
            )
        except (pl.exceptions.PolarsError, OSError):
            continue  # a damaged shard: its files are read again
    rows = pl.concat(parts) if parts else None
    return rows.unique("path", keep="first", maintain_order=True) if rows is not None and rows.height else None


@dataclass
class ShardJob:
    """One shard's work, self-contained so an engine worker can run it: the entries of the listing
    it covers, where to write, and the previous run's record (for rows to reuse)."""

    index: int
    entries: pl.DataFrame
    settings: Settings
    out: str
    previous: dict[str, Any] | None


def run_shard(job: ShardJob, pool: ThreadPoolExecutor | None = None) -> dict[str, Any]:
    """Write shard `job.index` unless a shard with its name is already complete; returns its
    record entry plus what was done (``written``, ``reused``, ``read``)."""
    settings, entries = job.settings, job.entries
    target = DatasetFolder(job.out, dict(settings.storage_options or {}))
    buckets = {
        url: open_bucket(url, settings.storage_options)
        for url in entries["_where"].unique().to_list()
        if url != "local"
    }
    own_pool = pool or ThreadPoolExecutor(IN_FLIGHT)
    try:
        # A manifest's URIs come without versions: HEAD them here, on the worker, so the digest
        # (and the reuse of unchanged rows) sees what changed.
        entries = with_object_versions(entries, buckets, own_pool)
        leaf = f"part-{job.index:05d}-{_digest(entries, settings)}.parquet"
        record = {"name": leaf, "rows": entries.height, "first": entries["path"][0], "last": entries["path"][-1]}
        if _complete(target, leaf, entries):
            return {**record, "written": 0, "reused": 0, "read": 0}
        old = _reusable(job.previous, target, entries, settings)
        numbered = entries.with_row_index("_order")
        todo = (
            numbered
            if old is None
            else numbered.join(old.select("path", "version"), on=["path", "version"], how="anti", nulls_equal=False)
        )
        fresh = scan_rows(todo.drop("_order"), buckets, settings, own_pool) if todo.height else None
    finally:
        if pool is None:
            own_pool.shutdown()
    # Every row is built on its own entry (a manifest may list a file twice): the measured columns
    # copied or just read, label, split and a manifest's columns from this run's listing.
    columns = [*SCAN_SCHEMA, "version", *[c for c in entries.columns if c not in LISTING_COLUMNS]]
    parts = []
    if old is not None:
        listed = numbered.drop("status", "error", "_where", "_key", "_raw")
        parts.append(listed.join(old, on=["path", "version"], how="inner").select(*columns, "_order"))
    if fresh is not None:
        parts.append(fresh.with_columns(todo["_order"]).select(*columns, "_order"))
    rows = pl.concat(parts, how="vertical_relaxed").sort("_order").drop("_order")
    buffer = io.BytesIO()
    rows.write_parquet(buffer)
    target.write(leaf, buffer.getvalue())
    read = todo.filter(pl.col("status").is_null()).height  # refused entries (missing, FIFOs) are not read
    return {**record, "written": 1, "reused": entries.height - todo.height, "read": read}


def run_to_dataset(
    source: Any, out: str, settings: Settings, *, shard_size: int, progress: bool, engine: Any = None
) -> ScanRun:
    """Scan `source` into the dataset at `out`, skipping complete shards and unchanged files.
    `engine` (e.g. `recipe_audit.distributed.RayEngine`) runs the shard jobs elsewhere; by
    default they run here, one after the other, each on every core."""
    if shard_size < 1:
        raise ValueError("scan: shard_size must be at least 1")
    if engine is not None and not is_uri(out):
        out = os.path.abspath(out)  # the workers' folder is not the driver's
    target = DatasetFolder(out, dict(settings.storage_options or {}))
    with target.only_writer():
        target.remove_partials()
        listing = without_own_files(build_listing(source, settings)[0], target)
        if engine is not None:
            listing, settings = _for_workers(listing, settings, out)
        return _run(listing, source, target, settings, shard_size, progress, engine)


def _for_workers(listing: pl.DataFrame, settings: Settings, out: str) -> tuple[pl.DataFrame, Settings]:
    """What the driver knows and an engine's workers would not: local files by absolute path (a
    worker starts in its own folder), and the S3 settings the driver took from its environment
    (a worker has its node's environment)."""
    raw = listing["_raw"]
    if raw.is_not_null().any():
        absolute = [None if r is None else os.fsencode(os.path.abspath(os.fsdecode(r))) for r in raw]
        listing = listing.with_columns(_raw=pl.Series(absolute, dtype=pl.Binary))
    stores = [*listing["_where"].unique().to_list(), out]
    if any(str(s).startswith(("s3://", "s3a://")) for s in stores) and env_options():
        settings = dataclasses.replace(settings, storage_options={**env_options(), **(settings.storage_options or {})})
    return listing, settings


def _run(
    listing: pl.DataFrame,
    source: Any,
    target: DatasetFolder,
    settings: Settings,
    shard_size: int,
    progress: bool,
    engine: Any,
) -> ScanRun:
    previous = previous_record(target)
    jobs = [
        ShardJob(k, listing.slice(start, shard_size), settings, target.out, previous)
        for k, start in enumerate(range(0, listing.height, shard_size))
    ]
    started = time.perf_counter()
    results: list[dict[str, Any]] = []

    def report(result: dict[str, Any]) -> None:
        results.append(result)
        if progress:
            done = sum(r["rows"] for r in results)
            rate = done / max(time.perf_counter() - started, 1e-9)
            print(
                f"\r{done:,}/{listing.height:,} files  {len(results)}/{len(jobs)} shards  {rate:,.0f} files/s",
                end="",
                file=sys.stderr,
                flush=True,
            )

    if engine is None:
        with ThreadPoolExecutor(IN_FLIGHT) as pool:
            for job in jobs:
                report(run_shard(job, pool))
    else:
        for result in engine.map_shards(jobs):
            report(result)
    if progress:
        print(file=sys.stderr)
    shards = sorted(results, key=lambda r: r["name"])
    lost = [r["name"] for r in shards if engine is not None and not target.exists(r["name"])]
    if lost:
        # A worker wrote it where this process cannot see it: a local folder of another machine.
        raise RuntimeError(
            f"scan: {len(lost)} shards the workers wrote are not in {target.out!r} as this process "
            f"sees it (e.g. {lost[0]}); out= must be storage every node shares (a shared "
            "filesystem or an object-store prefix)"
        )
    record = {
        "format_version": FORMAT_VERSION,
        "source": _describe(source),
        "settings": settings.fingerprint(),
        "shard_size": shard_size,
        "rows": listing.height,
        "shards": [{k: r[k] for k in ("name", "rows", "first", "last")} for r in shards],
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    target.write(RUN_RECORD, json.dumps(record, indent=1).encode())
    remove_stale(target, previous, {r["name"] for r in shards})
    remove_orphans(target, {r["name"] for r in shards})
    return ScanRun(
        target.out,
        [target.name(r["name"]) for r in shards],
        listing.height,
        sum(r["written"] for r in shards),
        sum(r["reused"] for r in shards),
        sum(r["read"] for r in shards),
        target.polars_options(),
    )


def _describe(source: Any) -> Any:
    if isinstance(source, Manifest):
        return {"manifest": os.fspath(source.path), "root": source.root}
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return [os.fspath(s) for s in source]
