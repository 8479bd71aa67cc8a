"""The class distribution per split: counts, shares, balance, and how far each split drifts."""

from __future__ import annotations

import math

import polars as pl

from recipe_audit.analysis.significance import chi2_sf

_TRAIN = "train"
_NO_SPLIT = "\x00none"  # stands for a null split inside joins; never shown


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
        # The largest named split: files without a split are not a split to compare with.
        named = totals.filter(pl.col("split") != _NO_SPLIT)
        names = named["split"].to_list()
        largest = named.sort(["split_count", "split"], descending=[True, False])["split"]
        reference = _TRAIN if _TRAIN in names else (str(largest[0]) if names else None)
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

    def kl(a: pl.Expr) -> pl.Expr:
        return pl.when(a > 0).then(a * (a / m).log(2)).otherwise(0.0)

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


__all__ = ["label_stats"]
