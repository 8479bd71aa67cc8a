"""Label manifests: tables read, matched to the scanned files, and joined onto the scan.

Labels come from the ImageFolder layout (already in the scan frame) or from a manifest (CSV,
Parquet, JSON Lines) mapping ``path`` -> ``label`` (and an optional ``split``), joined with Polars.
Detection annotations (COCO, YOLO) are in `recipe_audit.io.boxes`; the last-layer bias in
`recipe_audit.analysis.bias`.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import polars as pl

from recipe_audit.schema import PathLike

_ALIASES = {
    "path": ("path", "file", "filename", "file_name", "filepath", "file_path", "image", "image_path", "img"),
    "label": ("label", "class", "class_name", "category", "target", "y"),
    "split": ("split", "subset", "fold"),
}


def pick_column(frame: pl.DataFrame, role: str) -> str | None:
    """The column of `frame` that plays `role` (``path``, ``label``, ``split``), by its usual names."""
    lower = {c.lower(): c for c in frame.columns}
    return next((lower[a] for a in _ALIASES[role] if a in lower), None)


def read_labels(source: PathLike | pl.DataFrame) -> pl.DataFrame:
    """Read a label manifest (CSV, TSV, Parquet, JSON Lines or a JSON list of records).

    Column names are matched case-insensitively: the path from ``path``/``file``/``filename``/
    ``file_name``/``image``..., the label from ``label``/``class``/``category``/``target``...,
    the split from ``split``/``subset``/``fold`` (optional).

    Returns:
        ``path``, ``label`` (as text), ``split`` (null when the manifest has none), in file order.

    Raises:
        FileNotFoundError: no such file.
        ValueError: an unknown extension, or no path / label column (the message lists the columns).

    Example:
        >>> manifest = recipe_audit.read_labels("labels.csv")                       # doctest: +SKIP
        >>> files = recipe_audit.join_labels(recipe_audit.scan("images/"), manifest)  # doctest: +SKIP
    """
    if isinstance(source, pl.DataFrame):
        frame = source
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(
                f"read_labels: {str(path)!r} is not a file; pass a CSV, Parquet or JSON Lines manifest"
            )
        frame = read_table(path)
    columns = {role: pick_column(frame, role) for role in _ALIASES}
    if columns["path"] is None or columns["label"] is None:
        raise ValueError(
            f"read_labels: need a path column ({'/'.join(_ALIASES['path'][:4])}...) and a label column "
            f"({'/'.join(_ALIASES['label'][:4])}...); found {frame.columns}"
        )
    split = pl.col(columns["split"]).cast(pl.String) if columns["split"] else pl.lit(None, pl.String)
    return frame.select(
        path=pl.col(columns["path"]).cast(pl.String),
        label=pl.col(columns["label"]).cast(pl.String),
        split=split,
    )


def read_table(path: Path) -> pl.DataFrame:
    """A manifest file (CSV, TSV, Parquet, JSON Lines, JSON records) as a frame of strings."""
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix.lower() == ".gz" else path.suffix.lower()
    if suffix in (".csv", ".csv.gz"):
        return pl.read_csv(path, infer_schema_length=0)
    if suffix in (".tsv", ".tsv.gz"):
        return pl.read_csv(path, separator="\t", infer_schema_length=0)
    if suffix in (".parquet", ".pq"):
        return pl.read_parquet(path)
    if suffix in (".jsonl", ".ndjson", ".json"):
        data = path.read_bytes().removeprefix(b"\xef\xbb\xbf")  # a byte-order mark first is common
        if suffix == ".json":
            if data.lstrip().startswith(b"{"):
                raise ValueError(f"read_labels: {path} holds a JSON object; for COCO use recipe_audit.read_coco")
            return pl.read_json(io.BytesIO(data), infer_schema_length=None)
        # Every line decides the columns and their types, not the first hundred.
        return pl.read_ndjson(io.BytesIO(data), infer_schema_length=None)
    raise ValueError(f"read_labels: unknown manifest type {path.suffix!r}; use .csv, .tsv, .parquet, .jsonl or .json")


def _normalized(path: pl.Expr) -> pl.Expr:
    """Forward slashes, no ``./`` segments, no doubled slashes."""
    return (
        path.str.replace_all("\\", "/", literal=True)
        .str.replace_all(r"/(\./)+", "/")
        .str.replace_all(r"/{2,}", "/")
        .str.strip_prefix("./")
    )


_PARENT = r"/(?:[^/]{3,}|[^/.][^/]?|\.[^/.])/\.\.(?:/|$)"
"""A path segment (not ``.`` or ``..``) followed by ``..``: the two cancel."""


def _absolute(path: pl.Expr, cwd: str, parents: bool = True) -> pl.Expr:
    """`path` made absolute against `cwd`, with ``a/../`` segments removed when `parents` (a scan
    of ``../data`` names its files ``cwd/../data/...``, a manifest under a root may say
    ``../images/x.jpg``); without, the paths hold no ``..`` (`_has_parents`)."""
    p = _normalized(path)
    p = pl.when(p.str.starts_with("/")).then(p).otherwise(pl.lit(cwd.rstrip("/") + "/") + p)
    if not parents:
        return p
    for _ in range(16):  # one level a pass: deeper chains than this are not resolved
        p = p.str.replace_all(_PARENT, "/")
    return p.str.replace(r"^(/\.\.)+(/|$)", "/")


def _has_parents(paths: pl.Series) -> bool:
    """Whether any path has a ``..`` segment (the sixteen passes of `_absolute` are skipped otherwise)."""
    return bool(paths.cast(pl.String).str.replace_all("\\", "/", literal=True).str.contains(r"(^|/)\.\.(/|$)").any())


def match_to_files(
    files: pl.DataFrame, manifest: pl.DataFrame, root: PathLike | None, *, strip_extension: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(file path, manifest row) pairs, and the manifest with its keys.

    With `root`, relative manifest paths are resolved against it and matched exactly; without, a
    manifest path matches a file whose path ends with it (whole components), longest first.
    `strip_extension` drops the files' extensions first (YOLO: ``x.txt`` names ``x.jpg``).
    """
    cwd = os.getcwd()
    parents = _has_parents(files["path"]) or _has_parents(manifest["path"])
    absolute = _absolute(pl.col("path"), cwd, parents)
    if strip_extension:
        absolute = absolute.str.replace(r"\.[^./]*$", "")
    scanned = files.select("path", abs=absolute).with_columns(parts=pl.col("abs").str.strip_prefix("/").str.split("/"))
    keyed = manifest.with_row_index("row").with_columns(key=_normalized(pl.col("path")))
    if root is not None:
        base = os.path.abspath(os.fspath(root))
        keyed = keyed.with_columns(key=_absolute(pl.col("key"), base, parents).str.strip_prefix("/"))
    else:
        keyed = keyed.with_columns(key=pl.col("key").str.strip_prefix("/"))
    keyed = keyed.with_columns(depth=pl.col("key").str.count_matches("/") + 1)
    pairs = []
    # A row without a path (an empty CSV cell, a null file_name) matches no file.
    for depth in sorted(keyed["depth"].drop_nulls().unique().to_list(), reverse=True):
        tails = scanned.select(
            "path", key=pl.col("parts").list.slice(-depth).list.join("/"), depth=pl.lit(depth, pl.UInt32)
        )
        pairs.append(tails.join(keyed.filter(pl.col("depth") == depth).select("key", "row"), on="key"))
    matched = (
        pl.concat(pairs)
        if pairs
        else pl.DataFrame(schema={"path": pl.String, "key": pl.String, "depth": pl.UInt32, "row": pl.UInt32})
    )
    # The most specific (deepest) manifest path wins for each file.
    matched = matched.filter(pl.col("depth") == pl.col("depth").max().over("path"))
    return matched, keyed


def join_labels(files: pl.DataFrame, labels: pl.DataFrame | PathLike, *, root: PathLike | None = None) -> pl.DataFrame:
    """The scan frame with ``label`` and ``split`` taken from a manifest.

    A file the manifest does not list gets a null label (its folder name is not trusted once a
    manifest is given); its split stays the folder's when the manifest has none. A path listed
    twice keeps its first label (`label_issues` reports it).

    Args:
        files: the frame `recipe_audit.scan` returns.
        labels: a manifest path or the frame `read_labels` returns.
        root: the folder relative manifest paths start from; without it a manifest path matches
            the file whose path ends with it (``cat/1.jpg`` matches ``/data/train/cat/1.jpg``).

    Example:
        >>> files = recipe_audit.scan("images/")                                      # doctest: +SKIP
        >>> files = recipe_audit.join_labels(files, "labels.csv", root="images/")     # doctest: +SKIP
    """
    manifest = read_labels(labels)
    matched, keyed = match_to_files(files, manifest, root)
    first = (
        matched.join(keyed.select("row", "label", "split"), on="row")
        .sort("row")
        .group_by("path", maintain_order=True)
        .first()
        .select("path", new_label="label", new_split="split")
    )
    joined = files.join(first, on="path", how="left", maintain_order="left")
    old_split = pl.col("split") if "split" in files.columns else pl.lit(None, pl.String)
    return (
        joined.with_columns(label=pl.col("new_label"), split=pl.coalesce("new_split", old_split))
        .drop("new_label", "new_split")
        .select(files.columns + [c for c in ("label", "split") if c not in files.columns])
    )


def label_issues(files: pl.DataFrame, labels: pl.DataFrame | PathLike, *, root: PathLike | None = None) -> pl.DataFrame:
    """What does not line up between the files and a manifest.

    Returns:
        ``path``, ``issue``, ``detail``: ``not_in_manifest`` (a scanned file no row names),
        ``missing_file`` (a row naming no scanned file), ``several_labels`` (a file listed with
        different labels; detail lists them), ``several_files`` (a row that matches more than one
        file: give fuller paths or ``root``). Sorted by issue, path.

    Example:
        >>> recipe_audit.label_issues(recipe_audit.scan("images/"), "labels.csv")  # doctest: +SKIP
    """
    manifest = read_labels(labels)
    matched, keyed = match_to_files(files, manifest, root)
    labelled = matched.join(keyed.select("row", "label"), on="row")
    frames = [
        files.join(matched, on="path", how="anti").select(
            "path", issue=pl.lit("not_in_manifest"), detail=pl.lit(None, pl.String)
        ),
        keyed.join(matched, on="row", how="anti").select(
            "path", issue=pl.lit("missing_file"), detail=pl.lit("listed in the manifest, not found")
        ),
        labelled.group_by("path")
        .agg(labels=pl.col("label").unique().sort())
        .filter(pl.col("labels").list.len() > 1)
        .select("path", issue=pl.lit("several_labels"), detail=pl.col("labels").list.join(", ")),
        matched.group_by("row")
        .agg(pl.col("path").sort())
        .filter(pl.col("path").list.len() > 1)
        .join(keyed.select("row", listed="path"), on="row")
        .select(pl.col("listed").alias("path"), issue=pl.lit("several_files"), detail=pl.col("path").list.join(", ")),
    ]
    return pl.concat(frames).sort("issue", "path")


__all__ = ["read_labels", "join_labels", "label_issues", "read_table", "pick_column", "match_to_files"]
