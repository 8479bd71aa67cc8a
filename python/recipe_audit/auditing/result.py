"""`Audit`: everything an audit found, as frames; its problem counts, summary, Parquet and HTML."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import polars as pl

import recipe_audit.io.atomic as atomic
from recipe_audit.analysis.outliers import FLAGS, OutlierThresholds
from recipe_audit.analysis.properties import BiasThresholds, property_label_association, property_shift
from recipe_audit.auditing.problems import IMBALANCE, PROBLEMS, shifted, unlabelled_count
from recipe_audit.auditing.summary import audit_summary
from recipe_audit.report import write_report
from recipe_audit.schema import PathLike

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


# A frame with the scan's columns and no row: the empty bias frames of an `Audit` built by hand.
_NO_FILES = (
    pl.DataFrame(schema={"status": pl.String, "split": pl.String, "label": pl.String})
    .with_columns(
        pl.lit(None, pl.Float64).alias(c)
        for c in ("mean", "std", "sharpness", "sharpness_fine", "colorfulness", "aspect")
    )
    .with_columns(
        pl.lit(None, pl.UInt32).alias("width"),
        pl.lit(None, pl.UInt32).alias("height"),
        pl.lit(None, pl.UInt64).alias("bytes"),
        pl.lit(None, pl.String).alias("format"),
        pl.lit(None, pl.UInt8).alias("channels"),
    )
)


def progress_shown(progress: bool | None) -> bool:
    """`progress` as given, or whether stderr is a terminal when None."""
    return sys.stderr.isatty() if progress is None else progress


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
            `recipe_audit.io.boxes.box_issues`); empty without a manifest.
        boxes: one row per annotated box (`recipe_audit.io.boxes`), or None.
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
            "split_shift": per_split.filter(shifted()).height if per_split.height else 0,
            "property_shift": int(self.property_shift["shifted"].sum()),
            "property_label_association": int(self.property_label_association["associated"].sum()),
            "label_errors": self.label_errors["evidence"].is_not_null().sum() if self.label_errors is not None else 0,
            "missing_classes": int(stats["missing"].sum()) if stats.height else 0,
            "duplicates": self.duplicates.height - self.duplicates["group"].n_unique() if self.duplicates.height else 0,
            "label_issues": self.label_issues.height,
            "unlabelled": unlabelled_count(self.files),
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
        return audit_summary(self)

    def write(self, directory: PathLike) -> list[Path]:
        """Write every frame as ``<name>.parquet`` and the summary as ``summary.txt`` into `directory`.

        The directory is created if needed; files of the same names are replaced, and the file of
        a frame this audit does not have (``label_errors`` without probabilities, ``boxes``
        without annotations) is removed, so the folder never mixes two runs. Nothing else is
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
                atomic.write_parquet(frame, out / f"{name}.parquet")
                written.append(out / f"{name}.parquet")
            else:
                (out / f"{name}.parquet").unlink(missing_ok=True)  # an earlier run's, now stale
        atomic.write_text(out / "summary.txt", self.summary() + "\n")
        return [*written, out / "summary.txt"]

    def to_html(self, path: PathLike, *, progress: bool | None = None) -> Path:
        """Write the report: one self-contained HTML file (plots and thumbnails embedded, no script).

        Needs the ``report`` extra (matplotlib, Pillow, Jinja2). Galleries are capped, so the page
        stays small for a million files.

        Example:
            >>> recipe_audit.audit("data/").to_html("report.html")   # doctest: +SKIP
        """
        return write_report(self, path, thresholds=self.thresholds, progress=progress_shown(progress))


__all__ = ["Audit", "progress_shown"]
