"""`audit`: the whole "become one with the data" step in one call, one object, one page.

audit = recipe_audit.audit("data/")
print(audit.summary())
audit.write("audit/")            # every frame as Parquet
audit.to_html("report.html")     # one self-contained page
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Union

import polars as pl

from recipe_audit.duplicates import find_duplicates, find_label_conflicts, find_leaks
from recipe_audit.label_errors import audit_label_errors
from recipe_audit.labels import join_labels, label_issues, label_stats
from recipe_audit.outliers import FLAGS, OutlierThresholds, find_outliers
from recipe_audit.properties import BiasThresholds, property_label_association, property_shift
from recipe_audit.scan import scan

PathLike = Union[str, "os.PathLike[str]"]

SHIFT_P = 1e-3
"""A split is ``shifted`` when the chi-square p-value against the reference is below this ..."""
SHIFT_JS = 0.01
"""... and the Jensen-Shannon divergence (bits) is at least this: significant *and* large enough."""
IMBALANCE = 10.0
"""A split is ``imbalanced`` when its largest class has at least this many times its smallest."""

PROBLEMS: tuple[str, ...] = (
    "leaks",
    "label_conflicts",
    "label_errors",
    "corrupt",
    "split_shift",
    "property_shift",
    "missing_classes",
    "duplicates",
    "label_issues",
    "unlabelled",
    "imbalance",
    "rare_classes",
    "property_label_association",
    "outliers",
    *FLAGS,
    "ext_mismatch",
)
"""Every problem `Audit.problems` counts, most important first (the names ``--fail-on`` takes)."""

_FRAMES = (
    "files",
    "corrupt",
    "duplicates",
    "leaks",
    "label_conflicts",
    "labels",
    "outliers",
    "property_shift",
    "property_label_association",
    "label_errors",
    "label_noise",
    "label_issues",
    "boxes",
)


@dataclasses.dataclass
class Audit:
    """Everything `audit` found, as Polars frames (column names documented at each function).

    Attributes:
        files: the scan frame (`recipe_audit.scan`), labels joined from the manifest if one was given.
        corrupt: files that did not decode: ``path``, ``status``, ``error``, ``bytes``, ``format``.
        duplicates: `recipe_audit.find_duplicates`.
        leaks: `recipe_audit.find_leaks` (val/test files with a copy in train).
        label_conflicts: `recipe_audit.find_label_conflicts`.
        labels: `recipe_audit.label_stats` (class counts per split, balance, drift); for detection
            annotations, counted per box.
        outliers: `recipe_audit.find_outliers`.
        label_issues: where files and annotations do not line up (`recipe_audit.label_issues`,
            `recipe_audit.boxes.box_issues`); empty without a manifest.
        boxes: one row per annotated box (`recipe_audit.boxes`), or None.
        seconds: wall time of each step.
        thresholds: the outlier thresholds used (the report states the rules).
        property_shift: `recipe_audit.property_shift` (image properties of each split against
            train); empty without splits.
        property_label_association: `recipe_audit.property_label_association` (properties that
            give a class away); empty without labels.
        bias_thresholds: the thresholds of those two verdicts (the report states them).
        label_errors: `recipe_audit.find_label_errors` on the labelled files, with ``evidence``
            (``model``, ``copies`` for files in a label-conflict group, or both); None without
            ``pred_probs``.
        label_noise: `recipe_audit.label_noise`; None without ``pred_probs``.
    """

    files: pl.DataFrame
    corrupt: pl.DataFrame
    duplicates: pl.DataFrame
    leaks: pl.DataFrame
    label_conflicts: pl.DataFrame
    labels: pl.DataFrame
    outliers: pl.DataFrame
    label_issues: pl.DataFrame
    boxes: pl.DataFrame | None = None
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)
    thresholds: OutlierThresholds = dataclasses.field(default_factory=OutlierThresholds)
    property_shift: pl.DataFrame = dataclasses.field(default_factory=lambda: property_shift(_NO_FILES))
    property_label_association: pl.DataFrame = dataclasses.field(
        default_factory=lambda: property_label_association(_NO_FILES)
    )
    bias_thresholds: BiasThresholds = dataclasses.field(default_factory=BiasThresholds)
    label_errors: pl.DataFrame | None = None
    label_noise: pl.DataFrame | None = None

    def problems(self) -> dict[str, int]:
        """How many of each problem in `PROBLEMS` was found (0 when none), most important first.

        ``duplicates`` counts redundant copies (files beyond one per group); ``label_conflicts``
        groups; ``label_errors`` files the model or a conflicting copy calls mislabelled (with
        ``pred_probs``); ``split_shift``/``imbalance`` splits; ``missing_classes``/``rare_classes`` (split,
        class) pairs; ``property_shift`` (property, split) pairs shifted from train;
        ``property_label_association`` (property, class) pairs where the property gives the class
        away; ``outliers`` images with any flag; each flag its images.

        Example:
            >>> audit = recipe_audit.audit("data/")                 # doctest: +SKIP
            >>> audit.problems()["leaks"]                            # doctest: +SKIP
        """
        stats = self.labels
        per_split = stats.unique("split") if stats.height else stats
        counts = {
            "leaks": self.leaks.height,
            "label_conflicts": self.label_conflicts["group"].n_unique() if self.label_conflicts.height else 0,
            "corrupt": self.corrupt.height,
            "split_shift": per_split.filter(_shifted()).height if per_split.height else 0,
            "property_shift": int(self.property_shift["shifted"].sum()),
            "property_label_association": int(self.property_label_association["associated"].sum()),
            "label_errors": self.label_errors["evidence"].is_not_null().sum() if self.label_errors is not None else 0,
            "missing_classes": int(stats["missing"].sum()) if stats.height else 0,
            "duplicates": self.duplicates.height - self.duplicates["group"].n_unique() if self.duplicates.height else 0,
            "label_issues": self.label_issues.height,
            "unlabelled": _unlabelled(self.files),
            "imbalance": per_split.filter(pl.col("imbalance") >= IMBALANCE).height if per_split.height else 0,
            "rare_classes": int(stats["rare"].sum()) if stats.height else 0,
            "outliers": self.outliers.filter(pl.col("flags").list.len() > 0).height,
            **{flag: int(self.outliers[flag].sum()) for flag in FLAGS},
            "ext_mismatch": int(self.files["ext_mismatch"].sum()) if "ext_mismatch" in self.files.columns else 0,
        }
        return {name: int(counts[name]) for name in PROBLEMS}

    def summary(self) -> str:
        """A short text a person reads in ten seconds: the most important problems first, with counts.

        Example:
            >>> print(recipe_audit.audit("data/").summary())        # doctest: +SKIP
        """
        return _summary_text(self)

    def write(self, directory: PathLike) -> list[Path]:
        """Write every frame as ``<name>.parquet`` and the summary as ``summary.txt`` into `directory`.

        The directory is created if needed; files of the same names are replaced. Nothing else is
        touched. Returns the paths written.

        Example:
            >>> recipe_audit.audit("data/").write("audit/")          # doctest: +SKIP
        """
        out = Path(directory)
        if out.exists() and not out.is_dir():
            raise NotADirectoryError(f"Audit.write: {str(out)!r} is a file; pass a directory to write the frames into")
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for name in _FRAMES:
            frame = getattr(self, name)
            if frame is not None:
                frame.write_parquet(out / f"{name}.parquet")
                written.append(out / f"{name}.parquet")
        (out / "summary.txt").write_text(self.summary() + "\n", encoding="utf-8")
        return [*written, out / "summary.txt"]

    def to_html(self, path: PathLike, *, progress: bool | None = None) -> Path:
        """Write the report: one self-contained HTML file (plots and thumbnails embedded, no script).

        Needs the ``report`` extra (matplotlib, Pillow, Jinja2). Galleries are capped, so the page
        stays small for a million files.

        Example:
            >>> recipe_audit.audit("data/").to_html("report.html")   # doctest: +SKIP
        """
        from recipe_audit.report import write_report

        return write_report(self, path, thresholds=self.thresholds, progress=_progress(progress))


def _count(n: int, noun: str, plural: str | None = None) -> str:
    return f"{n:,} {noun if n == 1 else (plural or noun + 's')}"


def _example(frame: pl.DataFrame, column: str = "path") -> str:
    return f" (e.g. {frame[column][0]})" if frame.height else ""


# A frame with the scan's columns and no row: the empty bias frames of an `Audit` built by hand.
_NO_FILES = pl.DataFrame(schema={"status": pl.String, "split": pl.String, "label": pl.String}).with_columns(
    pl.lit(None, pl.Float64).alias(c) for c in ("mean", "std", "sharpness", "colorfulness", "aspect")
).with_columns(
    pl.lit(None, pl.UInt32).alias("width"),
    pl.lit(None, pl.UInt32).alias("height"),
    pl.lit(None, pl.UInt64).alias("bytes"),
    pl.lit(None, pl.String).alias("format"),
    pl.lit(None, pl.UInt8).alias("channels"),
)


def _summary_text(a: Audit) -> str:
    """Header, then one line per problem found (most important first), then what is fine."""
    files, n = a.files, a.problems()
    decoded = files.filter(pl.col("status") == "ok").height
    head = f"{_count(files.height, 'file')}, {decoded:,} decoded"
    if "label" in files.columns and files["label"].drop_nulls().len():
        head += f", {_count(files['label'].n_unique() - (1 if files['label'].null_count() else 0), 'class', 'classes')}"
    if "split" in files.columns and files["split"].drop_nulls().len():
        splits = files.group_by("split").len().drop_nulls().sort("split")
        head += " (" + ", ".join(f"{s} {c:,}" for s, c in splits.iter_rows()) + ")"
    if a.boxes is not None:
        head += f", {_count(a.boxes.filter(pl.col('found') & pl.col('x').is_not_null()).height, 'box', 'boxes')}"
    total = sum(a.seconds.values())
    lines = [f"recipe-audit: {head}" + (f" in {total:.1f} s" if total else "")]
    per_split = a.labels.unique("split", maintain_order=True) if a.labels.height else a.labels
    items: list[str] = []
    if n["leaks"]:
        items.append(f"{_count(n['leaks'], 'file')} in val/test with a copy in train (leaks){_example(a.leaks)}")
    if n["label_conflicts"]:
        items.append(
            f"{_count(n['label_conflicts'], 'group')} of copies with different labels{_example(a.label_conflicts)}"
        )
    if n["label_errors"] and a.label_errors is not None and a.label_noise is not None:
        flagged = a.label_errors.filter(pl.col("evidence").is_not_null())
        worst = a.label_noise.filter(pl.col("label").is_not_null()).sort("noise_rate", descending=True).row(0, named=True)
        items.append(
            f"{_count(n['label_errors'], 'file')} probably mislabelled (estimated noise "
            f"{a.label_noise['noise_rate'][-1]:.1%}; worst class {worst['label']} {worst['noise_rate']:.0%}, "
            f"mostly {worst['confused_with']}){_example(flagged)}"
        )
    if n["corrupt"]:
        kinds = a.corrupt.group_by("status").len().sort(["len", "status"], descending=[True, False])
        items.append(
            f"{_count(n['corrupt'], 'broken file')} ("
            + ", ".join(f"{c:,} {s}" for s, c in kinds.iter_rows())
            + f"){_example(a.corrupt)}"
        )
    if n["split_shift"]:
        shifted = per_split.filter(_shifted())
        items.append(
            f"{_count(n['split_shift'], 'split')} with a different class mix than {shifted['reference'][0]}: "
            + ", ".join(
                f"{s} (JS {js:.3f}, p={p:.1e})"
                for s, js, p in shifted.select("split", "js_divergence", "chi2_p").iter_rows()
            )
        )
    if n["property_shift"]:
        moved = a.property_shift.filter("shifted")
        items.append(
            f"{_count(n['property_shift'], 'image property', 'image properties')} shifted from "
            f"{moved['reference'][0]}: "
            + ", ".join(f"{s} {p} ({d})" for p, s, d in moved.select("property", "split", "detail").head(4).iter_rows())
        )
    if n["missing_classes"]:
        missing = a.labels.filter(pl.col("missing"))
        items.append(
            f"{_count(n['missing_classes'], 'class', 'classes')} missing from a split: "
            + ", ".join(f"{lab} in {s or '(no split)'}" for s, lab in missing.select("split", "label").head(5).iter_rows())
        )
    if n["duplicates"]:
        groups, copies = a.duplicates["group"].n_unique(), a.duplicates.filter(~pl.col("representative"))
        items.append(
            f"{_count(n['duplicates'], 'redundant copy', 'redundant copies')} in {_count(groups, 'duplicate group')}"
            + _example(copies)
        )
    if n["label_issues"]:
        kinds = a.label_issues.group_by("issue").len().sort(["len", "issue"], descending=[True, False])
        items.append(
            f"{_count(n['label_issues'], 'annotation problem')}: " + ", ".join(f"{c:,} {i}" for i, c in kinds.iter_rows())
        )
    if n["unlabelled"]:
        items.append(f"{_count(n['unlabelled'], 'decoded file')} without a label")
    if n["imbalance"]:
        worst = per_split.filter(pl.col("imbalance") >= IMBALANCE).sort("imbalance", descending=True)
        items.append(
            "class imbalance: " + ", ".join(f"{s} {r:.0f}x" for s, r in worst.select("split", "imbalance").iter_rows())
        )
    if n["rare_classes"]:
        rare = a.labels.filter(pl.col("rare")).select("split", "label", "share").head(5)
        items.append(
            f"{_count(n['rare_classes'], 'rare class', 'rare classes')}: "
            + ", ".join(f"{lab} in {s or '(no split)'} ({sh:.1%})" for s, lab, sh in rare.iter_rows())
        )
    if n["property_label_association"]:
        tells = a.property_label_association.filter("associated")
        items.append(
            f"{_count(n['property_label_association'], 'property', 'properties')} that give a class away (a shortcut to learn): "
            + ", ".join(f"{p} of {lab} ({d})" for p, lab, d in tells.select("property", "label", "detail").head(4).iter_rows())
        )
    if n["outliers"]:
        fired = ", ".join(f"{n[f]} {f}" for f in FLAGS if n[f])
        items.append(
            f"{_count(n['outliers'], 'odd image')}: {fired}{_example(a.outliers.filter(pl.col('flags').list.len() > 0))}"
        )
    if n["ext_mismatch"]:
        items.append(f"{_count(n['ext_mismatch'], 'file')} whose extension names another format")
    if not items:
        lines.append("no problems found")
    lines += [f"  {i + 1}. {item}" for i, item in enumerate(items)]
    return "\n".join(lines)


def _shifted() -> pl.Expr:
    return (pl.col("chi2_p") < SHIFT_P) & (pl.col("js_divergence") >= SHIFT_JS)


def _unlabelled(files: pl.DataFrame) -> int:
    if "label" not in files.columns or files["label"].null_count() == files.height:
        return 0  # no labels at all is a dataset without labels, not a problem to count per file
    return files.filter(pl.col("label").is_null() & (pl.col("status") == "ok")).height


def _progress(progress: bool | None) -> bool:
    return sys.stderr.isatty() if progress is None else progress


class _Steps:
    """Step lines on stderr ("[3/7] leaks ... 0.02 s") and the time of each step."""

    def __init__(self, show: bool, total: int) -> None:
        self.show, self.total, self.done, self.seconds = show, total, 0, {}

    def run(self, name: str, fn, *args, **kwargs):  # noqa: ANN001, ANN202 - a thin timer
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
    source: PathLike | Sequence[PathLike] | pl.DataFrame,
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
            (`recipe_audit.properties.BiasThresholds`).
        pred_probs: out-of-sample predicted probabilities, to find wrong labels: an array with one
            row per scanned file (the scan's order) and one column per class (sorted class names),
            or a frame with ``path`` and one column per class (`recipe_audit.find_label_errors`).
        threads: scan threads (default: every core).
        progress: progress on stderr (scan bar and step lines); default when stderr is a terminal.

    Example:
        >>> audit = recipe_audit.audit("data/", labels="labels.csv")    # doctest: +SKIP
        >>> print(audit.summary()); audit.to_html("report.html")        # doctest: +SKIP
    """
    show = _progress(progress)
    steps = _Steps(show, 8 if pred_probs is None else 9)
    if isinstance(source, pl.DataFrame):
        files = steps.run("scan", lambda: source)
    else:
        files = steps.run("scan", scan, source, threads=threads, progress=show)
    if root is None and isinstance(source, (str, os.PathLike)) and os.path.isdir(source):
        root = source
    boxes, issues = None, _empty({"path": pl.String, "issue": pl.String, "detail": pl.String})
    if labels is not None:
        files, boxes, issues = steps.run("labels", _attach_labels, files, labels, root)
    else:
        steps.run("labels", lambda: None)
    # A frame from elsewhere may lack the layout columns: they are then unknown (null), as in a flat folder.
    files = files.with_columns(pl.lit(None, pl.String).alias(c) for c in ("label", "split") if c not in files.columns)
    dups = steps.run("duplicates", find_duplicates, files, max_distance=max_distance)
    leaks = steps.run("leaks", find_leaks, files, dups)
    conflicts = steps.run("label conflicts", find_label_conflicts, files, dups)
    counted = files if boxes is None else boxes.filter(pl.col("found") & pl.col("error").is_null() & pl.col("x").is_not_null())
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
    splits = files.filter(pl.col("status") == "ok").group_by("split").len().drop_nulls()
    names = splits["split"].to_list()
    reference = "train" if "train" in names or not names else splits.sort("len", descending=True)["split"][0]
    return (
        property_shift(files, reference=reference, thresholds=thresholds),
        property_label_association(files, thresholds=thresholds),
    )


def _attach_labels(
    files: pl.DataFrame, labels: PathLike | pl.DataFrame, root: PathLike | None
) -> tuple[pl.DataFrame, pl.DataFrame | None, pl.DataFrame]:
    """Manifest: join it. COCO / YOLO: read the boxes, keep the folder labels, check both."""
    from recipe_audit import boxes as box_module

    kind = box_module.annotation_kind(labels)
    if kind is None:
        return join_labels(files, labels, root=root), None, label_issues(files, labels, root=root)
    boxes = box_module.read_boxes(labels, files, root=root)
    return files, boxes, box_module.box_issues(boxes, files)


__all__ = ["audit", "Audit", "PROBLEMS", "SHIFT_P", "SHIFT_JS", "IMBALANCE"]
