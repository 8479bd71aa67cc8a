"""Where bytes come from: object-store URIs (S3 and what obstore also speaks) and manifests.

The per-file pipeline is the same Rust function whatever the source (`_core.scan_bytes` on bytes
in memory; `_core.scan_paths` reads local files itself). This module lists and fetches objects
with `obstore` (Rust's object_store: many requests in flight, the GIL released) and turns
manifests into lists of paths with their labels, splits and extra columns.

Credentials and endpoint come from the standard environment (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_REGION``, ``AWS_ENDPOINT_URL`` for an
S3-compatible server, ``AWS_ALLOW_HTTP``), or ``storage_options`` given explicitly; they are never
printed or logged.

>>> files = recipe_audit.scan("s3://bucket/images/")                        # doctest: +SKIP
>>> files = recipe_audit.scan(recipe_audit.Manifest("lake/manifest.parquet"))  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from recipe_audit._optional import require
from recipe_audit.io.manifests import pick_column, read_table
from recipe_audit.schema import SCAN_SCHEMA, PathLike

URI_SCHEMES = ("s3://", "s3a://", "gs://", "az://", "abfs://", "abfss://")
"""URI prefixes read through the object store client; everything else is a local path."""
IN_FLIGHT = 64
"""Object reads in flight at once (measured: ~3,000 small objects/s from a loopback server)."""


def is_uri(source: object) -> bool:
    """Whether `source` names objects in a store rather than a local path.

    >>> is_uri("s3://bucket/key.jpg"), is_uri("data/cat.jpg")
    (True, False)
    """
    return isinstance(source, str) and source.lower().startswith(URI_SCHEMES)


def obstore_module() -> Any:
    """The obstore package (the ``s3`` extra), imported on first use."""
    return require("obstore", extra="s3", feature="reading object-store URIs")


def env_options() -> dict[str, str]:
    """S3 settings from the environment, in obstore's names (endpoint included)."""
    names = {
        "AWS_ACCESS_KEY_ID": "access_key_id",
        "AWS_SECRET_ACCESS_KEY": "secret_access_key",
        "AWS_SESSION_TOKEN": "session_token",
        "AWS_REGION": "region",
        "AWS_DEFAULT_REGION": "region",
        "AWS_ENDPOINT_URL": "endpoint",
        "AWS_ENDPOINT_URL_S3": "endpoint",
        "AWS_ENDPOINT": "endpoint",
    }
    return {key: os.environ[env] for env, key in names.items() if os.environ.get(env)}


_RESERVED = frozenset(SCAN_SCHEMA) | {"version", "_where", "_key", "_raw", "_row", "_order"}
"""Column names a manifest's extra columns may not take: the scan frame's, and the listing's own
(`version` decides whether an incremental run reads a file again)."""


@dataclass(frozen=True)
class Bucket:
    """One store (bucket or container) and the client that reads it; its repr shows no secret."""

    url: str
    store: Any = field(repr=False)
    options: Mapping[str, str] = field(repr=False, default_factory=dict)

    def uri(self, key: str) -> str:
        return f"{self.url.rstrip('/')}/{key}"

    def polars_options(self) -> dict[str, str]:
        """The same settings for `polars.scan_parquet` / `write_parquet` on this store."""
        out = {f"aws_{k}": v for k, v in self.options.items() if k != "allow_http"}
        if self.options.get("endpoint", "").startswith("http://"):
            out["aws_allow_http"] = "true"
        return out


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` -> (``s3://bucket``, ``a/b``)."""
    scheme, rest = uri.split("://", 1)
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise ValueError(f"{uri!r} names no bucket; expected e.g. s3://bucket/prefix")
    return f"{scheme}://{bucket}", key


def open_bucket(uri: str, storage_options: Mapping[str, str] | None = None) -> Bucket:
    """The store behind `uri`, configured from the environment and `storage_options`."""
    from_url = require("obstore.store", extra="s3", feature="reading object-store URIs").from_url

    url, _ = split_uri(uri)
    from_env = env_options() if url.startswith(("s3://", "s3a://")) else {}
    options = {**from_env, **(storage_options or {})}
    client = {"allow_http": True} if options.get("endpoint", "").startswith("http://") else {}
    store = from_url(
        url.replace("s3a://", "s3://"),
        config={k: v for k, v in options.items() if k != "allow_http"},
        client_options=client,
    )
    return Bucket(url, store, options)


def list_objects(bucket: Bucket, prefix: str) -> pl.DataFrame:
    """Every object under `prefix` (streamed, page by page), sorted by key: ``key, size, etag``.
    Hidden names (a path segment starting with ``.``) are left out, as in the local walk."""
    obstore = obstore_module()
    keys: list[str] = []
    sizes: list[int] = []
    etags: list[str | None] = []
    stem = prefix.rstrip("/") + "/" if prefix and not prefix.endswith("/") else prefix
    for page in _listing_errors(obstore.list(bucket.store, prefix=stem or None, chunk_size=1000), bucket.uri(stem)):
        for meta in page:
            if any(part.startswith(".") for part in meta["path"][len(stem) :].split("/")):
                continue
            keys.append(meta["path"])
            sizes.append(meta["size"])
            etags.append(meta.get("e_tag"))
    if not keys and prefix:
        # A single object named exactly by the URI.
        try:
            meta = obstore.head(bucket.store, prefix)
            keys, sizes, etags = [meta["path"]], [meta["size"]], [meta.get("e_tag")]
        except FileNotFoundError:
            pass
    return pl.DataFrame(
        {"key": keys, "size": sizes, "etag": etags}, schema={"key": pl.String, "size": pl.UInt64, "etag": pl.String}
    ).sort("key")


def _listing_errors(pages: Iterator[Any], where: str) -> Iterator[Any]:
    """The pages, with a failed listing turned into an error that says what to check (and, as
    every message here, never the credentials)."""
    try:
        yield from pages
    except FileNotFoundError as err:
        raise FileNotFoundError(f"cannot list {where}: no such bucket or container") from err
    except Exception as err:
        text = str(err)
        first = text.splitlines()[0] if text else type(err).__name__
        if "NoSuchBucket" in text:
            raise FileNotFoundError(f"cannot list {where}: no such bucket") from None
        if any(
            word in text for word in ("403", "Forbidden", "SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied")
        ):
            raise PermissionError(
                f"cannot list {where}: access denied; check the credentials (AWS_ACCESS_KEY_ID / "
                "AWS_SECRET_ACCESS_KEY or storage_options) and the endpoint"
            ) from None
        raise ConnectionError(f"cannot list {where}: {first}") from None


def head_object(bucket: Bucket, key: str) -> tuple[str | None, str | None, str | None]:
    """``(etag, status, error)`` of one object from a HEAD request: ``(None, "missing", ...)``
    when it is not there, ``(None, None, None)`` when the request failed (the caller reads it)."""
    obstore = obstore_module()
    try:
        return obstore.head(bucket.store, key).get("e_tag"), None, None
    except FileNotFoundError:
        return None, "missing", "listed but not found in the object store"
    except Exception:
        return None, None, None


FETCH_BATCH = 1024
"""Objects per batch handed to the per-file pipeline; the next batch downloads meanwhile."""


def fetch_batches(
    bucket: Bucket, keys: Sequence[str], max_bytes: int, pool: ThreadPoolExecutor, batch: int = FETCH_BATCH
) -> Iterator[list[tuple[str, bytes | None, str | None, str | None]]]:
    """(key, bytes, status, error) for each key, in order, a batch at a time: batch k+1 is being
    downloaded (`IN_FLIGHT` reads at once) while the caller decodes batch k, and at most two
    batches of bytes are held. A key that is not there is ``missing``; other failures are
    ``unreadable``; objects over `max_bytes` are ``too_large`` and their bodies are not read."""
    obstore = obstore_module()

    def get(key: str) -> tuple[str, bytes | None, str | None, str | None]:
        try:
            result = obstore.get(bucket.store, key)
            size = result.meta["size"]
            if size > max_bytes:
                return (
                    key,
                    None,
                    "too_large",
                    f"object is {size} bytes, over the limit of {max_bytes} (max_bytes); not read",
                )
            # One copy out of obstore's buffer; the Rust pipeline then reads these bytes in place.
            return key, bytes(result.bytes()), None, None
        except FileNotFoundError:
            return key, None, "missing", "listed but not found in the object store"
        except Exception as err:
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            return key, None, "unreadable", f"object store read failed: {first}"

    in_flight = None
    for start in range(0, len(keys), batch):
        submitted = [pool.submit(get, key) for key in keys[start : start + batch]]
        if in_flight is not None:
            yield [f.result() for f in in_flight]
        in_flight = submitted
    if in_flight is not None:
        yield [f.result() for f in in_flight]


@dataclass(frozen=True)
class Manifest:
    """A table of the files to audit: exactly these, with their labels, splits and extra columns.

    Parquet, CSV, TSV or JSON Lines with a path column (``path``, ``file``, ``image``...) and,
    optionally, ``label`` and ``split``; every other column is carried through to the frame.
    Paths are local paths or object-store URIs; relative ones are joined to `root` (default: the
    manifest's folder). A listed file that does not exist is a row with status ``missing``.
    An ``etag`` (or ``e_tag``, as in an S3 Inventory report) column versions the objects for
    resumed and incremental ``out=`` runs; without it each object gets one HEAD request.

    >>> files = recipe_audit.scan(recipe_audit.Manifest("manifest.parquet"))   # doctest: +SKIP
    """

    path: PathLike
    root: str | None = None

    def read(self) -> pl.DataFrame:
        """``path`` (resolved), ``label``, ``split``, then the extra columns, one row per entry."""
        source = Path(self.path)
        if not source.is_file():
            raise FileNotFoundError(f"Manifest: {str(source)!r} is not a file")
        table = read_table(source)
        path_col = pick_column(table, "path")
        if path_col is None:
            raise ValueError(f"Manifest: no path column (path, file, filename, image...) in {table.columns}")
        label_col, split_col = pick_column(table, "label"), pick_column(table, "split")
        root = self.root if self.root is not None else str(source.resolve().parent)
        raw = pl.col(path_col).cast(pl.String)
        joined = (
            pl.when(raw.str.contains(r"^[A-Za-z][A-Za-z0-9+.-]*://") | raw.str.starts_with("/"))
            .then(raw)
            .otherwise(pl.lit(root.rstrip("/") + "/") + raw)
        )
        extras = [c for c in table.columns if c not in {path_col, label_col, split_col}]
        taken = sorted(set(extras) & _RESERVED)
        if taken:
            # Carried through, they would replace what the scan measures or lists (a `status` of
            # "approved" read as every file unreadable; a `version` taken for the file's own).
            raise ValueError(
                f"Manifest: the columns {taken} of {str(source)!r} are names the scan writes itself; "
                "rename them (e.g. to 'review_status') and pass the manifest again"
            )
        frame = table.select(
            joined.alias("path"),
            (pl.col(label_col).cast(pl.String) if label_col else pl.lit(None, pl.String)).alias("label"),
            (pl.col(split_col).cast(pl.String).str.to_lowercase() if split_col else pl.lit(None, pl.String)).alias(
                "split"
            ),
            *extras,
        )
        if frame["path"].null_count():
            raise ValueError(f"Manifest: {frame['path'].null_count()} rows of {str(source)!r} have no path")
        return frame
