"""`audit`: the whole "become one with the data" step in one call, one object, one page.

audit = recipe_audit.audit("data/")
print(audit.summary())
audit.write("audit/")            # every frame as Parquet
audit.to_html("report.html")     # one self-contained page
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import polars as pl

from recipe_audit.analysis.boxes import box_issues
from recipe_audit.analysis.label_errors import audit_label_errors
from recipe_audit.analysis.labels import label_stats
from recipe_audit.analysis.outliers import OutlierThresholds, find_outliers
from recipe_audit.analysis.properties import BiasThresholds, property_label_association, property_shift
from recipe_audit.auditing.result import Audit, progress_shown
from recipe_audit.dedup.duplicates import find_duplicates
from recipe_audit.dedup.leaks import find_label_conflicts, find_leaks
from recipe_audit.io.boxes import annotation_kind, read_boxes
from recipe_audit.io.manifests import join_labels, label_issues, read_labels
from recipe_audit.io.scan import scan
from recipe_audit.io.sources import Manifest
from recipe_audit.schema import PathLike

T = TypeVar("T")


class _Steps:
    """Step lines on stderr ("[3/7] leaks ... 0.02 s") and the time of each step."""

    def __init__(self, show: bool, total: int) -> None:
        self.show, self.total, self.done = show, total, 0
        self.seconds: dict[str, float] = {}

    def run(self, name: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        self.done += 1
        if self.show:  # the scan draws its own bar on the next line
            end = "\n" if name == "scan" else ""
            print(f"[{self.done}/{self.total}] {name} ...", end=end, file=sys.stderr, flush=True)
        started = time.perf_counter()
        result = fn(*args, **kwargs)
        self.seconds[name] = time.perf_counter() - started
        if self.show:
            print(f" {self.seconds[name]:.2f} s", file=sys.stderr, flush=True)
        return result


def _empty(columns: dict[str, pl.DataType | type[pl.DataType]]) -> pl.DataFrame:
    return pl.DataFrame(schema=columns)


def audit(
    source: PathLike | Sequence[PathLike] | Manifest | pl.DataFrame,
    *,
    labels: PathLike | pl.DataFrame | None = None,
    root: PathLike | None = None,
    max_distance: int | None = None,
    rare_share: float = 0.01,
    thresholds: OutlierThresholds | None = None,
    bias_thresholds: BiasThresholds | None = None,
    pred_probs: object | None = None,
    threads: int | None = None,
    progress: bool | None = None,
) -> Audit:
    """Scan, then find broken files, duplicates, leaks, label conflicts, label stats and outliers.

    Args:
        source: a directory, a file or a list of them (scanned), or a frame `recipe_audit.scan`
            already returned.
        labels: where the labels are when the folder layout does not say: a manifest (CSV, TSV,
            Parquet, JSON Lines, or a frame from `read_labels`), a COCO JSON file or a YOLO label
            directory (detection: boxes, checked against the images).
        root: the folder relative manifest paths start from (default: `source` when it is a
            directory).
        max_distance: pHash radius for duplicates: selects the single-hash search (default: the
            window rule of `recipe_audit.find_duplicates`).
        rare_share: a class under this share of its split is rare (`label_stats`).
        thresholds: the outlier flags' thresholds (`OutlierThresholds`).
        bias_thresholds: when a property shift or a property-label association is a verdict
            (`recipe_audit.analysis.properties.BiasThresholds`).
        pred_probs: out-of-sample predicted probabilities, to find wrong labels: an array with one
            row per scanned file (the scan's order) and one column per class (sorted class names),
            or a frame with ``path`` and one column per class (`recipe_audit.find_label_errors`).
        threads: scan threads (default: every core).
        progress: progress on stderr (scan bar and step lines); default when stderr is a terminal.

    Example:
        >>> audit = recipe_audit.audit("data/", labels="labels.csv")    # doctest: +SKIP
        >>> print(audit.summary()); audit.to_html("report.html")        # doctest: +SKIP
    """
    show = progress_shown(progress)
    steps = _Steps(show, 8 if pred_probs is None else 9)
    if isinstance(source, pl.DataFrame):
        files = steps.run("scan", lambda: source)
    else:
        files = steps.run("scan", scan, source, threads=threads, progress=show)
    root_given = root is not None
    if root is None and isinstance(source, (str, os.PathLike)) and os.path.isdir(source):
        root = source
    boxes, issues = None, _empty({"path": pl.String, "issue": pl.String, "detail": pl.String})
    if labels is not None:
        files, boxes, issues = steps.run("labels", _attach_labels, files, labels, root, root_given)
    else:
        steps.run("labels", lambda: None)
    # A frame from elsewhere may lack the layout columns: they are then unknown (null), as in a flat folder.
    files = files.with_columns(pl.lit(None, pl.String).alias(c) for c in ("label", "split") if c not in files.columns)
    # Splits are names ("train", "val"): a frame that numbers them (0, 1) is read as text.
    files = files.with_columns(pl.col("split").cast(pl.String))
    dups = steps.run("duplicates", find_duplicates, files, max_distance=max_distance, progress=show)
    leaks = steps.run("leaks", find_leaks, files, dups)
    conflicts = steps.run("label conflicts", find_label_conflicts, files, dups)
    counted = (
        files
        if boxes is None
        else boxes.filter(pl.col("found") & pl.col("error").is_null() & pl.col("x").is_not_null())
    )
    stats = steps.run("label stats", label_stats, counted, rare_share=rare_share, usable_only=boxes is None)
    outliers = steps.run("outliers", find_outliers, files, thresholds=thresholds)
    shift, association = steps.run("biases", _biases, files, bias_thresholds)
    errors = noise = None
    if pred_probs is not None:
        errors, noise = steps.run("label errors", audit_label_errors, files, pred_probs, conflicts)
    corrupt = files.filter(pl.col("status") != "ok").select("path", "status", "error", "bytes", "format")
    chosen = thresholds or OutlierThresholds()
    return Audit(
        files,
        corrupt,
        dups,
        leaks,
        conflicts,
        stats,
        outliers,
        issues,
        boxes,
        steps.seconds,
        chosen,
        property_shift=shift,
        property_label_association=association,
        bias_thresholds=bias_thresholds or BiasThresholds(),
        label_errors=errors,
        label_noise=noise,
    )


def _biases(files: pl.DataFrame, thresholds: BiasThresholds | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Property shift against train (or the largest split when there is no train), and
    property-label associations."""
    splits = (
        files.filter(pl.col("status") == "ok")
        .select(pl.col("split").cast(pl.String))
        .group_by("split")
        .len()
        .drop_nulls()
    )
    names = splits["split"].to_list()
    # The largest split, ties broken by name: a group_by has no order, and equal val and test
    # splits must not take turns being the reference from one run to the next.
    largest = splits.sort(["len", "split"], descending=[True, False])["split"]
    reference = "train" if "train" in names or not names else largest[0]
    return (
        property_shift(files, reference=reference, thresholds=thresholds),
        property_label_association(files, thresholds=thresholds),
    )


def _attach_labels(
    files: pl.DataFrame, labels: PathLike | pl.DataFrame, root: PathLike | None, root_given: bool = True
) -> tuple[pl.DataFrame, pl.DataFrame | None, pl.DataFrame]:
    """Manifest: join it. COCO / YOLO: read the boxes, keep the folder labels, check both.

    A root the caller did not choose (the source folder) is dropped when no manifest path
    resolves under it: the manifest then names the files another way (from the current folder,
    ``data/train/x.jpg`` for a source ``data``), and each path matches the file it ends with."""
    if isinstance(labels, pl.DataFrame) or annotation_kind(labels) is None:
        manifest = read_labels(labels)  # once, for the join and for the issues
        joined = join_labels(files, manifest, root=root)
        if not root_given and root is not None and manifest.height and joined["label"].is_null().all():
            root = None
            joined = join_labels(files, manifest, root=root)
        return joined, None, label_issues(files, manifest, root=root)
    boxes = read_boxes(labels, files, root=root)
    return files, boxes, box_issues(boxes, files)


__all__ = ["audit"]
