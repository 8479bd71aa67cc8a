"""Biases a network would learn: image properties that differ between splits, or that predict the label.

The recipe asks to look for "data imbalances and biases". Two questions, answered on every file from
the scan's columns alone (so any scan frame works, a million rows in seconds):

- `property_shift`: does a split look different from train? (test photos darker, val all PNG, ...)
- `property_label_association`: does a property give the label away? (every ``cat`` is a PNG,
  ``dog`` photos are darker, one class is all small): a shortcut a network learns instead of the
  content.

Each answer is a significance test *and* an effect size: with a million files a trivial difference
is significant, and with thirty a large one may be luck; only both together give a verdict.
Numbers are compared with the two-sample Kolmogorov-Smirnov test (effect: the KS distance, the
largest gap between the two cumulative distributions, 0-1), categories with a chi-square test of
homogeneity (effect: the total variation distance between the two category mixes, 0-1). The
thresholds (`BiasThresholds`) were set so that random re-splits and random labels of real data
rarely raise a verdict (0 and 1 in 100 tries) while planted shifts are found
(``benches/studies/property_bias.py``, BENCHMARKS.md).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator

import numpy as np
import polars as pl

from recipe_audit.analysis.significance import contingency_test, ks_one_vs_rest, ks_pvalue
from recipe_audit.schema import require_columns

NUMERIC_PROPERTIES: dict[str, str] = {
    "brightness": "mean",
    "contrast": "std",
    "sharpness": "sharpness",
    "colorfulness": "colorfulness",
    "width": "width",
    "height": "height",
    "aspect": "aspect",
    "bytes": "bytes",
}
"""Numeric properties and the scan column each is read from."""

CATEGORICAL_PROPERTIES: dict[str, str] = {"format": "format", "channels": "channels"}
"""Categorical properties and their scan columns."""

_SCHEMA_SHIFT = {
    "property": pl.String,
    "split": pl.String,
    "reference": pl.String,
    "test": pl.String,
    "n": pl.UInt32,
    "n_reference": pl.UInt32,
    "statistic": pl.Float64,
    "p_value": pl.Float64,
    "effect": pl.Float64,
    "shifted": pl.Boolean,
    "detail": pl.String,
}
_SCHEMA_ASSOCIATION = {
    "property": pl.String,
    "label": pl.String,
    "test": pl.String,
    "n": pl.UInt32,
    "n_rest": pl.UInt32,
    "score": pl.Float64,
    "p_value": pl.Float64,
    "associated": pl.Boolean,
    "detail": pl.String,
}


@dataclasses.dataclass(frozen=True)
class BiasThresholds:
    """When `property_shift` says ``shifted`` and `property_label_association` says ``associated``.
    Every value must be finite, ``p_value`` in (0, 1] and ``min_count`` not negative (else a
    `ValueError` naming the field).

    Attributes:
        p_value: the test's p-value must be below this ...
        shift_effect: ... and, for a shift, the effect (KS distance or total variation distance)
            at least this. 0.1: one image in ten moved past the other split's median, say.
        association_effect: ... and, for an association, the class-vs-rest effect at least this
            (a class is compared with all the others, many tests: a higher bar).
        min_count: groups (splits, classes) with fewer decoded images are not judged.
    """

    p_value: float = 1e-3
    shift_effect: float = 0.1
    association_effect: float = 0.15
    min_count: int = 20

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not math.isfinite(value):
                raise ValueError(f"BiasThresholds.{field.name} must be a finite number, not {value!r}")
        if not 0 < self.p_value <= 1:
            raise ValueError(f"BiasThresholds.p_value must be in (0, 1], not {self.p_value!r}")
        if self.min_count < 0:
            raise ValueError(f"BiasThresholds.min_count is a count and cannot be negative, not {self.min_count!r}")


def _usable(files: pl.DataFrame, needed: str) -> pl.DataFrame:
    columns = {needed, "status", *NUMERIC_PROPERTIES.values(), *CATEGORICAL_PROPERTIES.values()}
    require_columns(files, columns)
    # A NaN in a frame built elsewhere is an unknown value (KS would rank it above every number).
    files = files.with_columns(pl.col(pl.Float32, pl.Float64).fill_nan(None))
    return files.filter((pl.col("status") == "ok") & pl.col(needed).is_not_null())


def _one_vs_rest(
    usable: pl.DataFrame, by: str, groups: list[str]
) -> Iterator[tuple[str, str, str, float, float, float, str, int, int]]:
    """Every property, every group against all other rows of `usable`: (property, group, test,
    statistic, effect, p-value, detail in words, values in the group, values in the rest); rows
    whose property is null count in neither."""
    codes = (
        usable[by].cast(pl.String).replace_strict(groups, list(range(len(groups))), return_dtype=pl.Int64).to_numpy()
    )
    for name, column in NUMERIC_PROPERTIES.items():
        present = usable[column].is_not_null().to_numpy()
        values = usable[column].cast(pl.Float64).to_numpy()[present]
        kept = codes[present]
        distances = ks_one_vs_rest(values, kept, len(groups))
        counts = np.bincount(kept, minlength=len(groups))
        for g, group in enumerate(groups):
            d, n_in, n_out = float(distances[g]), int(counts[g]), int(kept.size - counts[g])
            if d != d:
                yield name, group, "ks", d, d, float("nan"), "no values", n_in, n_out
                continue
            mine = kept == g
            detail = f"median {np.median(values[mine]):.4g} vs {np.median(values[~mine]):.4g} {{rest}}"
            yield name, group, "ks", d, d, ks_pvalue(d, n_in, n_out), detail, n_in, n_out
    for name, column in CATEGORICAL_PROPERTIES.items():
        table = (
            usable.select(pl.col(by).cast(pl.String), pl.col(column).cast(pl.String).fill_null("?").alias("category"))
            .group_by(by, "category")
            .len()
        )
        categories = sorted(table["category"].unique())
        table_counts = np.zeros((len(groups), len(categories)))
        index = {c: i for i, c in enumerate(categories)}
        position = {gname: i for i, gname in enumerate(groups)}
        for group, category, count in table.iter_rows():
            table_counts[position[group], index[category]] = count
        totals = table_counts.sum(axis=0)
        for g, group in enumerate(groups):
            inside, rest = table_counts[g], totals - table_counts[g]
            n_in, n_out = int(inside.sum()), int(rest.sum())
            if n_in == 0 or n_out == 0:
                yield name, group, "chi2", float("nan"), float("nan"), float("nan"), "no values", n_in, n_out
                continue
            statistic, p = contingency_test(np.vstack([inside, rest]))
            gap = inside / inside.sum() - rest / rest.sum()
            top = int(np.argmax(np.abs(gap)))
            detail = f"{categories[top]}: {inside[top] / inside.sum():.0%} vs {rest[top] / rest.sum():.0%} {{rest}}"
            yield name, group, "chi2", statistic, float(0.5 * np.abs(gap).sum()), p, detail, n_in, n_out


def property_shift(
    files: pl.DataFrame, *, reference: str = "train", thresholds: BiasThresholds | None = None
) -> pl.DataFrame:
    """For every image property and every split, how far it is from ``reference`` (default train).

    Args:
        files: a scan frame (`recipe_audit.scan`, or `Audit.files`) with a ``split`` column.
        reference: the split the others are compared with.
        thresholds: when a difference is a verdict (`BiasThresholds`).

    Returns:
        One row per (property, split): ``property`` (see `NUMERIC_PROPERTIES`,
        `CATEGORICAL_PROPERTIES`), ``split``, ``reference``, ``test`` (``ks`` or ``chi2``), ``n``,
        ``n_reference`` (decoded images with a value of the property), ``statistic``, ``p_value``, ``effect`` (KS
        distance or total variation distance, 0-1), ``shifted`` (p below ``p_value`` and effect at
        least ``shift_effect``, both groups at least ``min_count``) and ``detail`` (the medians, or
        the category that moved most); ``effect`` and ``p_value`` are null where a group has no
        value. Sorted shifted first, then by effect. Empty when there is no split other than the
        reference.

    Raises:
        ValueError: splits exist but none is ``reference``.

    Example:
        >>> shift = recipe_audit.property_shift(recipe_audit.scan("data/"))         # doctest: +SKIP
        >>> shift.filter("shifted").select("property", "split", "effect", "detail")  # doctest: +SKIP
    """
    t = thresholds or BiasThresholds()
    reference = str(reference)  # the splits are compared as text, whatever their column's type
    usable = _usable(files, "split").with_columns(pl.col("split").cast(pl.String))
    splits = sorted(usable["split"].unique())
    rows = []
    if splits and reference not in splits:
        raise ValueError(
            f"property_shift: no decoded image in the reference split {reference!r}; the splits are {splits}"
        )
    for split in (s for s in splits if s != reference):
        pair = usable.filter(pl.col("split").is_in([split, reference]))
        # Within the pair, "the rest" of the split is exactly the reference.
        for name, group, test, statistic, effect, p, detail, n, n_reference in _one_vs_rest(
            pair, "split", [split, reference]
        ):
            if group != split:
                continue
            judged = n >= t.min_count and n_reference >= t.min_count
            shifted = bool(judged and p < t.p_value and effect >= t.shift_effect)
            detail = detail.replace("{rest}", f"in {reference}")
            rows.append((name, split, reference, test, n, n_reference, statistic, p, effect, shifted, detail))
    frame = pl.DataFrame(rows, schema=_SCHEMA_SHIFT, orient="row").with_columns(pl.col(pl.Float64).fill_nan(None))
    return frame.sort(
        ["shifted", "effect", "property", "split"], descending=[True, True, False, False], nulls_last=True
    )


def property_label_association(files: pl.DataFrame, *, thresholds: BiasThresholds | None = None) -> pl.DataFrame:
    """For every image property and every class, how well the property tells that class from the rest.

    Args:
        files: a scan frame with a ``label`` column.
        thresholds: when an association is a verdict (`BiasThresholds`).

    Returns:
        One row per (property, label): ``property``, ``label``, ``test`` (``ks`` or ``chi2``), ``n``
        (images of the class), ``n_rest``, ``score`` (KS distance or total variation distance
        between the class and the rest, 0-1: 1 means the property alone separates the class),
        ``p_value``, ``associated`` (p below ``p_value`` and score at least
        ``association_effect``, both groups at least ``min_count``) and ``detail``. Sorted
        associated first, then by score. Empty with fewer than two classes.

    Example:
        >>> assoc = recipe_audit.property_label_association(recipe_audit.scan("data/"))  # doctest: +SKIP
        >>> assoc.filter("associated")                                                      # doctest: +SKIP
    """
    t = thresholds or BiasThresholds()
    usable = _usable(files, "label").with_columns(pl.col("label").cast(pl.String))
    labels = sorted(usable["label"].unique())
    rows = []
    if len(labels) >= 2:
        for name, label, test, _, effect, p, detail, n, rest in _one_vs_rest(usable, "label", labels):
            judged = n >= t.min_count and rest >= t.min_count
            associated = bool(judged and p < t.p_value and effect >= t.association_effect)
            rows.append(
                (name, label, test, n, rest, effect, p, associated, detail.replace("{rest}", "in the other classes"))
            )
    frame = pl.DataFrame(rows, schema=_SCHEMA_ASSOCIATION, orient="row").with_columns(pl.col(pl.Float64).fill_nan(None))
    return frame.sort(
        ["associated", "score", "property", "label"], descending=[True, True, False, False], nulls_last=True
    )


__all__ = [
    "property_shift",
    "property_label_association",
    "BiasThresholds",
    "NUMERIC_PROPERTIES",
    "CATEGORICAL_PROPERTIES",
]
