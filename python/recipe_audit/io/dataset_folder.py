"""A scan dataset's folder (or object-store prefix): where its shards and run record are written,
read and checked, the one-writer lock, and what in it belongs to the dataset, so a run deletes or
leaves out only files it wrote itself (`io.datasets` runs the scan into it)."""

from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl

from recipe_audit.io.sources import Bucket, is_uri, obstore_module, open_bucket, split_uri

RUN_RECORD = "_run.json"
FORMAT_VERSION = 1
SHARD_NAME = re.compile(r"part-\d{5,}-[0-9a-f]{16}\.parquet")
"""Every name a run writes; a record naming anything else is not this module's (never deleted)."""
LOCK = ".lock"


class DatasetBusyError(RuntimeError):
    """Another run holds the dataset's lock."""


class DatasetFolder:
    """Where shards go: a local folder (write, then rename) or an object-store prefix (one put)."""

    def __init__(self, out: str, storage_options: dict[str, str] | None) -> None:
        self.out = out.rstrip("/")
        self.bucket: Bucket | None = open_bucket(out, storage_options) if is_uri(out) else None
        if self.bucket is None:
            if Path(self.out).exists() and not Path(self.out).is_dir():
                raise NotADirectoryError(f"scan: out={self.out!r} is a file; pass a folder or an object-store prefix")
            try:
                Path(self.out).mkdir(parents=True, exist_ok=True)
                with tempfile.TemporaryFile(dir=self.out):
                    pass
            except OSError as error:
                raise PermissionError(
                    f"scan: cannot write the dataset in {self.out!r}: {error.strerror or error}"
                ) from None
        else:
            _, self.prefix = split_uri(self.out)

    @contextmanager
    def only_writer(self) -> Iterator[None]:
        """Holds the dataset's lock for one run (local folders; the system releases it when the
        process ends, however it ends). Two runs at once would each delete the shards the other
        one keeps, and one's cleanup would remove the other's shards in flight."""
        if self.bucket is not None:
            yield
            return
        # Read-only: a lock file another user made (0644) still locks; flock needs no write access.
        descriptor = os.open(Path(self.out) / LOCK, os.O_RDONLY | os.O_CREAT, 0o666)
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise DatasetBusyError(
                    f"scan: another run is writing the dataset at {self.out!r}; wait for it to end"
                ) from None
            yield
        finally:
            os.close(descriptor)

    def remove_partials(self) -> None:
        """Temporary shard files a killed run left behind (local folders only: a PUT is atomic).
        Called under `only_writer`: no other run's shard is in flight."""
        if self.bucket is None:
            for partial in Path(self.out).glob(".part-*.partial-*"):
                partial.unlink(missing_ok=True)

    def name(self, leaf: str) -> str:
        return f"{self.out}/{leaf}"

    def read(self, leaf: str) -> bytes | None:
        if self.bucket is None:
            path = Path(self.out) / leaf
            return path.read_bytes() if path.is_file() else None
        obstore = obstore_module()
        try:
            return bytes(obstore.get(self.bucket.store, f"{self.prefix}/{leaf}".lstrip("/")).bytes())
        except FileNotFoundError:
            return None

    def exists(self, leaf: str) -> bool:
        if self.bucket is None:
            return (Path(self.out) / leaf).is_file()
        obstore = obstore_module()
        try:
            obstore.head(self.bucket.store, f"{self.prefix}/{leaf}".lstrip("/"))
            return True
        except FileNotFoundError:
            return False

    def write(self, leaf: str, data: bytes) -> None:
        if self.bucket is None:
            final = Path(self.out) / leaf
            partial = final.with_name(f".{leaf}.partial-{os.getpid()}")
            partial.write_bytes(data)
            os.replace(partial, final)
        else:
            obstore = obstore_module()
            obstore.put(self.bucket.store, f"{self.prefix}/{leaf}".lstrip("/"), data)

    def polars_options(self) -> dict[str, str]:
        return self.bucket.polars_options() if self.bucket else {}


def previous_record(target: DatasetFolder) -> dict[str, Any] | None:
    """The last complete run's record, or None (a damaged one is set aside with a warning: every
    file is read again, and nothing it names is deleted)."""
    raw = target.read(RUN_RECORD)
    if raw is None:
        return None
    try:
        record = json.loads(raw)
    except ValueError:
        record = None
    if not _well_formed(record):
        warnings.warn(
            f"scan: {target.name(RUN_RECORD)} is damaged; every file is read again", RuntimeWarning, stacklevel=4
        )
        return None
    assert isinstance(record, dict)
    return record if record["format_version"] == FORMAT_VERSION else None


def _well_formed(record: Any) -> bool:
    if not isinstance(record, dict) or not isinstance(record.get("shards"), list):
        return False
    fields = {"name": str, "first": str, "last": str, "rows": int}
    return (
        isinstance(record.get("format_version"), int)
        and isinstance(record.get("settings"), str)
        and all(
            isinstance(shard, dict)
            and all(isinstance(shard.get(key), kind) for key, kind in fields.items())
            and SHARD_NAME.fullmatch(shard["name"]) is not None
            for shard in record["shards"]
        )
    )


def remove_stale(target: DatasetFolder, previous: dict[str, Any] | None, keep: set[str]) -> None:
    """Shards of the previous run that this run replaced (in the output only, never user data:
    `_previous` accepts only records whose every name is a shard's)."""
    if not previous:
        return
    for shard in previous["shards"]:
        if shard["name"] not in keep and SHARD_NAME.fullmatch(shard["name"]):
            if target.bucket is None:
                (Path(target.out) / shard["name"]).unlink(missing_ok=True)
            else:
                obstore = obstore_module()
                obstore.delete(target.bucket.store, f"{target.prefix}/{shard['name']}".lstrip("/"))


def remove_orphans(target: DatasetFolder, keep: set[str]) -> None:
    """Shards no record lists (written by a run stopped before its record, with other settings):
    in a local folder, under the lock, nothing else can still want them."""
    if target.bucket is not None:
        return
    for path in Path(target.out).glob("part-*.parquet"):
        if path.name not in keep and SHARD_NAME.fullmatch(path.name) and _is_own(target, path.name):
            path.unlink(missing_ok=True)


def without_own_files(listing: pl.DataFrame, target: DatasetFolder) -> pl.DataFrame:
    """The listing without the dataset's own shards and record, when the dataset lies inside the
    folder or prefix it scans (it would scan itself, and each rerun would change it). A user's
    file that only has such a name is kept."""
    if not listing.height:
        return listing
    leaf = pl.col("path").str.extract(r"([^/]+)$")
    named = leaf.str.contains(f"^{SHARD_NAME.pattern}$") | (leaf == RUN_RECORD)
    if target.bucket is None:
        own = listing.filter((pl.col("_where") == "local") & named)
        folder = os.path.realpath(target.out)
        places = [os.fsdecode(raw) if raw is not None else path for path, raw in zip(own["path"], own["_raw"])]
        inside = [os.path.realpath(os.path.dirname(place)) == folder for place in places]
    else:
        own = listing.filter((pl.col("_where") != "local") & named)
        inside = [path.rsplit("/", 1)[0] == target.out for path in own["path"]]
    mine = [path for path, here in zip(own["path"], inside) if here and _is_own(target, path.rsplit("/", 1)[-1])]
    return listing.filter(~pl.col("path").is_in(mine)) if mine else listing


def _is_own(target: DatasetFolder, leaf: str) -> bool:
    """Whether the file `leaf` of the dataset's folder is one this module wrote: a shard of scan
    rows, or a run record (not a user's picture that happens to bear such a name)."""
    if leaf == RUN_RECORD:
        try:
            return _well_formed(json.loads(target.read(leaf) or b""))
        except ValueError:
            return False
    try:
        names = (
            pl.scan_parquet(target.name(leaf), storage_options=target.polars_options() or None).collect_schema().names()
        )
    except (pl.exceptions.PolarsError, OSError):
        return False
    return {"path", "status", "content_hash", "version"} <= set(names)
