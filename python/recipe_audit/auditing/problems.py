"""The audit's vocabulary: every problem it counts, in order of importance, and the thresholds
that turn a statistic into a problem. The report, the summary and ``--fail-on`` read these names."""

from __future__ import annotations

import polars as pl

from recipe_audit.analysis.outliers import FLAGS

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


def shifted() -> pl.Expr:
    """A split whose class mix differs from the reference: significant and large enough."""
    return (pl.col("chi2_p") < SHIFT_P) & (pl.col("js_divergence") >= SHIFT_JS)


def unlabelled_count(files: pl.DataFrame) -> int:
    """Decoded files without a label, in a dataset that has labels (none at all counts 0)."""
    if "label" not in files.columns or files["label"].null_count() == files.height:
        return 0  # no labels at all is a dataset without labels, not a problem to count per file
    return files.filter(pl.col("label").is_null() & (pl.col("status") == "ok")).height


__all__ = ["PROBLEMS", "SHIFT_P", "SHIFT_JS", "IMBALANCE", "shifted", "unlabelled_count"]
