"""Labels: manifests joined onto the scan, and the class distribution per split.

Labels come from the ImageFolder layout (already in the scan frame) or from a manifest (CSV,
Parquet, JSON Lines) mapping ``path`` -> ``label`` (and an optional ``split``), joined with Polars.
Detection annotations (COCO, YOLO) are in `recipe_audit.boxes`; the last-layer bias in
`recipe_audit.bias`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Union

import polars as pl

from recipe_audit.significance import chi2_sf

PathLike = Union[str, "os.PathLike[str]"]

_ALIASES = {
    "path": ("path", "file", "filename", "file_name", "filepath", "file_path", "image", "image_path", "img"),
    "label": ("label", "class", "class_name", "category", "target", "y"),
    "split": ("split", "subset", "fold"),
}
_TRAIN = "train"
_NO_SPLIT = "\x00none"  # stands for a null split inside joins; never shown


def _pick(frame: pl.DataFrame, role: str) -> str | None:
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
        frame = _read_table(path)
    columns = {role: _pick(frame, role) for role in _ALIASES}
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


def _read_table(path: Path) -> pl.DataFrame:
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix.lower() == ".gz" else path.suffix.lower()
    if suffix in (".csv", ".csv.gz"):
        return pl.read_csv(path, infer_schema_length=0)
    if suffix in (".tsv", ".tsv.gz"):
        return pl.read_csv(path, separator="\t", infer_schema_length=0)
    if suffix in (".parquet", ".pq"):
        return pl.read_parquet(path)
    if suffix in (".jsonl", ".ndjson"):
        return pl.read_ndjson(path)
    if suffix == ".json":
        head = path.open("rb").read(4096).lstrip()
        if head.startswith(b"{"):
            raise ValueError(f"read_labels: {path} holds a JSON object; for COCO use recipe_audit.read_coco")
        return pl.read_json(path)
    raise ValueError(f"read_labels: unknown manifest type {path.suffix!r}; use .csv, .tsv, .parquet, .jsonl or .json")


def _normalized(path: pl.Expr) -> pl.Expr:
    """Forward slashes, no ``./`` segments, no doubled slashes."""
    return (
        path.str.replace_all("\\", "/", literal=True)
        .str.replace_all(r"/(\./)+", "/")
        .str.replace_all(r"/{2,}", "/")
        .str.strip_prefix("./")
    )


def _absolute(path: pl.Expr, cwd: str) -> pl.Expr:
    p = _normalized(path)
    return pl.when(p.str.starts_with("/")).then(p).otherwise(pl.lit(cwd.rstrip("/") + "/") + p)


def _match(
    files: pl.DataFrame, manifest: pl.DataFrame, root: PathLike | None, *, strip_extension: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(file path, manifest row) pairs, and the manifest with its keys.

    With `root`, relative manifest paths are resolved against it and matched exactly; without, a
    manifest path matches a file whose path ends with it (whole components), longest first.
    `strip_extension` drops the files' extensions first (YOLO: ``x.txt`` names ``x.jpg``).
    """
    cwd = os.getcwd()
    absolute = _absolute(pl.col("path"), cwd)
    if strip_extension:
        absolute = absolute.str.replace(r"\.[^./]*$", "")
    scanned = files.select("path", abs=absolute).with_columns(parts=pl.col("abs").str.strip_prefix("/").str.split("/"))
    keyed = manifest.with_row_index("row").with_columns(key=_normalized(pl.col("path")))
    if root is not None:
        base = os.path.abspath(os.fspath(root))
        keyed = keyed.with_columns(key=_absolute(pl.col("key"), base).str.strip_prefix("/"))
    else:
        keyed = keyed.with_columns(key=pl.col("key").str.strip_prefix("/"))
    keyed = keyed.with_columns(depth=pl.col("key").str.count_matches("/") + 1)
    pairs = []
    for depth in sorted(keyed["depth"].unique().to_list(), reverse=True):
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
    matched, keyed = _match(files, manifest, root)
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
    matched, keyed = _match(files, manifest, root)
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


def label_stats(
    files: pl.DataFrame,
    *,
    rare_share: float = 0.01,
    reference: str | None = None,
    usable_only: bool = True,
) -> pl.DataFrame:
    """The class distribution per split: counts, shares, balance, and how far each split drifts.

    Args:
        files: the scan frame (with ``label``, optionally ``split``; `join_labels` for manifests).
        rare_share: a class under this share of its split is ``rare``.
        reference: the split every other split is compared with; default ``train`` when present,
            else the largest split.
        usable_only: count only files that decoded (``status == "ok"``): what training will see.

    Returns:
        One row per split and class (every class in every split, zeros included), sorted by split
        then label: ``split``, ``label``, ``count``, ``share`` (of the split), ``rare``, ``missing``
        (no file of a class that other splits have); and per split, repeated on its rows:
        ``split_count``, ``classes`` (present), ``imbalance`` (largest / smallest present class),
        ``entropy`` (normalized: 1 is perfectly balanced over all classes, null with one class),
        ``reference`` (the split compared with), ``js_divergence`` (Jensen-Shannon divergence, base 2,
        0 = same distribution, 1 = disjoint) and ``chi2_p`` (p-value of a chi-square test that
        the split and the reference share one distribution; small = shifted), null for the
        reference itself. Files without a label are left out.

    Example:
        >>> stats = recipe_audit.label_stats(recipe_audit.scan("data/"))      # doctest: +SKIP
        >>> stats.filter(pl.col("missing") | pl.col("rare"))                   # doctest: +SKIP
    """
    if "label" not in files.columns:
        raise ValueError(
            "label_stats: files has no 'label' column; scan an ImageFolder layout or join_labels a manifest"
        )
    if not 0 <= rare_share < 1:
        raise ValueError("label_stats: rare_share must be in [0, 1), e.g. 0.01")
    rows = files.filter(pl.col("status") == "ok") if usable_only and "status" in files.columns else files
    split = pl.col("split").fill_null(_NO_SPLIT) if "split" in files.columns else pl.lit(_NO_SPLIT)
    counted = (
        rows.filter(pl.col("label").is_not_null())
        .group_by(split=split, label=pl.col("label"))
        .agg(count=pl.len().cast(pl.UInt64))
    )
    splits = counted.select("split").unique()
    grid = splits.join(counted.select("label").unique(), how="cross").join(counted, on=["split", "label"], how="left")
    grid = grid.with_columns(pl.col("count").fill_null(0)).sort("split", "label")  # fixed order: sums are reproducible
    totals = grid.group_by("split").agg(pl.col("count").sum().alias("split_count"))
    if reference is None:
        names = totals["split"].to_list()
        reference = (
            _TRAIN
            if _TRAIN in names
            else (totals.sort(["split_count", "split"], descending=[True, False])["split"].first() if names else None)
        )
    elif reference not in set(totals["split"].to_list()):
        raise ValueError(f"label_stats: no split named {reference!r}; splits are {sorted(totals['split'].to_list())}")
    n_classes = grid["label"].n_unique()
    share = pl.col("count") / pl.col("split_count")
    present = pl.col("count") > 0
    stats = (
        grid.join(totals, on="split")
        .with_columns(share=share)
        .with_columns(
            rare=present & (pl.col("share") < rare_share),
            missing=~present,
            classes=present.sum().over("split").cast(pl.UInt32),
            imbalance=(pl.col("count").max() / pl.col("count").filter(present).min()).over("split").cast(pl.Float64),
            entropy=(
                pl.when(present).then(-pl.col("share") * pl.col("share").log()).otherwise(0.0).sum().over("split")
                / (math.log(n_classes) if n_classes > 1 else float("nan"))
            ),
        )
    )
    stats = _drift(stats, reference).with_columns(
        pl.when(pl.col(c) == _NO_SPLIT).then(None).otherwise(pl.col(c)).alias(c) for c in ("split", "reference")
    )
    return (
        stats.with_columns(pl.col("entropy").fill_nan(None))
        .sort(["split", "label"], nulls_last=False)
        .select(
            "split",
            "label",
            "count",
            "share",
            "rare",
            "missing",
            "split_count",
            "classes",
            "imbalance",
            "entropy",
            "reference",
            "js_divergence",
            "chi2_p",
        )
    )


def _drift(stats: pl.DataFrame, reference: str | None) -> pl.DataFrame:
    """Jensen-Shannon divergence and chi-square p-value of each split against `reference`."""
    if reference is None:
        return stats.with_columns(
            reference=pl.lit(None, pl.String), js_divergence=pl.lit(None, pl.Float64), chi2_p=pl.lit(None, pl.Float64)
        )
    ref = stats.filter(pl.col("split") == reference).select(
        "label", ref_count="count", ref_share="share", ref_total="split_count"
    )
    both = stats.join(ref, on="label", how="left").sort("split", "label")
    p, q = pl.col("share"), pl.col("ref_share")
    m = (p + q) / 2
    kl = lambda a: pl.when(a > 0).then(a * (a / m).log(2)).otherwise(0.0)  # noqa: E731
    column_total = pl.col("count") + pl.col("ref_count")
    grand = pl.col("split_count") + pl.col("ref_total")
    expected_a = pl.col("split_count") * column_total / grand
    expected_b = pl.col("ref_total") * column_total / grand
    cell = (
        pl.when(column_total > 0)
        .then(
            (pl.col("count") - expected_a).pow(2) / expected_a + (pl.col("ref_count") - expected_b).pow(2) / expected_b
        )
        .otherwise(0.0)
    )
    per_split = both.group_by("split", maintain_order=True).agg(
        js_divergence=(0.5 * kl(p) + 0.5 * kl(q)).sum(),
        chi2=cell.sum(),
        dof=(column_total > 0).sum().cast(pl.Int64) - 1,
    )
    pvalues = [chi2_sf(x, int(d)) for x, d in per_split.select("chi2", "dof").iter_rows()]  # one per split
    per_split = per_split.with_columns(chi2_p=pl.Series(pvalues, dtype=pl.Float64)).with_columns(
        pl.when(pl.col("split") == reference).then(None).otherwise(pl.col(c)).alias(c)
        for c in ("js_divergence", "chi2_p")
    )
    return stats.join(per_split.select("split", "js_divergence", "chi2_p"), on="split", how="left").with_columns(
        reference=pl.lit(reference, pl.String)
    )


__all__ = ["read_labels", "join_labels", "label_issues", "label_stats"]
