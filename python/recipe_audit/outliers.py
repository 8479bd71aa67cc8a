"""Odd images: robust per-measure scores (median / MAD) over the scan frame, and named flags.

Two kinds of evidence, kept apart on purpose:

- **Scores** are relative: for each measure, how many robust standard deviations an image lies from
  the median of the dataset (``z_*``) and of its class (``zc_*``). They rank; they do not judge.
- **Flags** are named judgements with documented thresholds (`OutlierThresholds`). Picture-quality
  flags (``dark``, ``bright``, ``blurry``, ``low_information``) are absolute, because a dataset that
  is half blurry must not make blur look normal; shape flags (``odd_size``, ``odd_aspect``,
  ``grayscale``) are relative to the dataset, because "odd" only means something against the rest.

The thresholds were checked by eye on real photographs (``benches/outlier_review.py``): a flag that
fires on an ordinary photo is a bug. Known traps and how the flags avoid them: a clear sky has a low
Laplacian variance but is sharp (``blurry`` also needs low sharpness *relative to contrast*); an
icon is small and flat (``blurry`` is not judged below 64 px, where the measure sees upscaling, and
``odd_size`` is relative to the dataset's own median, and entropy is not used to call an image
empty); a black background with a lit subject, or a star field, is dark but keeps its contrast
(``dark`` and ``bright`` also need a low luma std).
"""

from __future__ import annotations

import dataclasses

import polars as pl

FLAGS: tuple[str, ...] = ("dark", "bright", "blurry", "low_information", "odd_size", "odd_aspect", "grayscale")
"""Every flag `find_outliers` can raise, in the order of the ``flags`` list column."""

MEASURES: dict[str, float] = {
    "brightness": 4.0,
    "contrast": 2.0,
    "sharpness": 0.15,
    "entropy": 0.1,
    "size": 0.05,
    "aspect": 0.03,
}
"""Scored measures and the smallest spread (scale floor) each is given: a dataset whose images all
share one size must not turn a 1-pixel difference into a huge score. brightness = luma mean,
contrast = luma std, sharpness = log(1 + Laplacian variance), entropy = bits, size = log of the
geometric mean side sqrt(width * height), aspect = log(long side / short side), the elongation
(orientation left out: portrait and landscape photos are both ordinary)."""

_MAD_TO_SIGMA = 1.4826
_IQR_TO_SIGMA = 1.349
_Z_CAP = 99.0


@dataclasses.dataclass(frozen=True)
class OutlierThresholds:
    """When each flag fires. Every field can be changed: ``OutlierThresholds(dark_mean=40)``.

    Attributes:
        dark_mean: ``dark`` needs luma mean <= this (0-255) ...
        bright_mean: ``bright`` needs luma mean >= this ...
        exposure_std: ... and, for both, luma std <= this: an under- or over-exposed picture has
            little contrast left, while a clear bright sky (mean ~227, std ~28), a black background
            with a lit subject, or a dark glyph on white, have more and stay unflagged.
        blur_max: ``blurry`` needs Laplacian variance (64x64 picture) <= this ...
        sharpness_ratio: ... and variance / std² <= this: a clear sky is flat (low variance) but
            its few edges are sharp for its contrast; a defocused photo is soft for its contrast.
        blur_min_side: ``blurry`` is not judged on images whose shorter side is below this (the
            measure then sees the upscaling, not the photo), nor on flat ones (``low_information``).
        flat_std: ``low_information`` when the luma std <= this: a blank or solid frame. (Entropy
            is not used: an icon on a plain background has few distinct levels but is not empty.)
        size_factor: ``odd_size`` when the geometric mean side sqrt(w h) is this many times
            smaller or larger than the dataset's median ...
        aspect_factor: ``odd_aspect`` when the elongation (long side / short side) is this many
            times the dataset's median elongation (portrait and landscape are both ordinary, so
            orientation alone never flags) ...
        z: ... and, for both, the robust score (median / MAD) is at least this far out.
        color_share: ``grayscale`` when an image is stored with 1 or 2 channels in a dataset where
            at least this share is stored in color. (A gray picture stored as RGB is not seen: the
            scan has no colorfulness measure yet.)
        min_count: relative flags (size, aspect, grayscale) and scores need at least this many
            decoded images; class scores need this many in the class.
    """

    dark_mean: float = 35.0
    bright_mean: float = 225.0
    exposure_std: float = 20.0
    blur_max: float = 100.0
    sharpness_ratio: float = 0.15
    blur_min_side: int = 64
    flat_std: float = 3.0
    size_factor: float = 4.0
    aspect_factor: float = 2.5
    z: float = 3.5
    color_share: float = 0.9
    min_count: int = 8


def _measures() -> dict[str, pl.Expr]:
    w = pl.col("width").cast(pl.Float64)
    h = pl.col("height").cast(pl.Float64)
    return {
        "brightness": pl.col("mean"),
        "contrast": pl.col("std"),
        "sharpness": pl.col("blur").log1p(),
        "entropy": pl.col("entropy"),
        "size": (w * h).sqrt().log(),
        "aspect": (pl.max_horizontal(w, h) / pl.min_horizontal(w, h)).log(),
    }


def _robust_z(x: pl.Expr, floor: float, group: str | None, min_count: int) -> pl.Expr:
    """(x - median) / scale, scale = max(1.4826 MAD, IQR / 1.349, floor); null for small groups."""

    def over(e: pl.Expr) -> pl.Expr:
        return e if group is None else e.over(group)

    median = over(x.median())
    mad = over((x - median).abs().median()) * _MAD_TO_SIGMA
    iqr = over(x.quantile(0.75, "linear") - x.quantile(0.25, "linear")) / _IQR_TO_SIGMA
    scale = pl.max_horizontal(mad, iqr, pl.lit(floor))
    z = ((x - median) / scale).clip(-_Z_CAP, _Z_CAP)
    enough = over(x.count()) >= min_count
    return pl.when(enough).then(z).otherwise(None)


def _flags(t: OutlierThresholds) -> dict[str, pl.Expr]:
    w = pl.col("width").cast(pl.Float64)
    h = pl.col("height").cast(pl.Float64)
    size_ratio = (w * h).sqrt() / (w * h).sqrt().median()
    log_elongation = _measures()["aspect"]
    elongation_ratio = (log_elongation - log_elongation.median()).exp()
    enough = pl.len() >= t.min_count
    return {
        "dark": (pl.col("mean") <= t.dark_mean) & (pl.col("std") <= t.exposure_std),
        "bright": (pl.col("mean") >= t.bright_mean) & (pl.col("std") <= t.exposure_std),
        "blurry": (pl.min_horizontal(w, h) >= t.blur_min_side)
        & (pl.col("std") > t.flat_std)
        & (pl.col("blur") <= t.blur_max)
        & (pl.col("blur") <= t.sharpness_ratio * pl.col("std").pow(2)),
        "low_information": pl.col("std") <= t.flat_std,
        "odd_size": enough
        & ((size_ratio >= t.size_factor) | (size_ratio <= 1.0 / t.size_factor))
        & (pl.col("z_size").abs() >= t.z),
        "odd_aspect": enough & (elongation_ratio >= t.aspect_factor) & (pl.col("z_aspect") >= t.z),
        "grayscale": enough & (pl.col("channels") <= 2) & ((pl.col("channels") >= 3).mean() >= t.color_share),
    }


def find_outliers(
    files: pl.DataFrame,
    *,
    thresholds: OutlierThresholds | None = None,
    by_class: bool = True,
) -> pl.DataFrame:
    """Score every decoded image against the dataset and its class, and flag the odd ones.

    Args:
        files: the frame `recipe_audit.scan` returns (broken files are left out: they are in the
            scan's ``status``).
        thresholds: when each flag fires (`OutlierThresholds`; the defaults are documented there).
        by_class: also score each image within its ``label`` (``zc_*`` columns).

    Returns:
        One row per decoded image, sorted by ``score`` (largest first), then path: ``path``,
        ``label``, ``split``, ``width``, ``height``, the measures (``mean``, ``std``, ``blur``,
        ``entropy``, ``channels``), ``z_<measure>`` for each of `MEASURES` (robust score against
        the whole dataset: (x - median) / max(1.4826 MAD, IQR / 1.349, floor), capped at ±99;
        null under ``min_count`` images), ``zc_<measure>`` (the same within the image's class;
        null for classes under ``min_count``), one boolean column per flag in `FLAGS`, ``flags``
        (the names that fired, as a list) and ``score`` (the largest absolute score, overall or
        within class: the order in which to look).

    Example:
        >>> odd = recipe_audit.find_outliers(recipe_audit.scan("data/"))        # doctest: +SKIP
        >>> odd.filter(pl.col("blurry")).select("path", "blur", "score")          # doctest: +SKIP
    """
    t = thresholds if thresholds is not None else OutlierThresholds()
    if not isinstance(t, OutlierThresholds):
        raise TypeError("thresholds must be an OutlierThresholds, e.g. OutlierThresholds(dark_mean=40)")
    needed = {
        "path",
        "status",
        "width",
        "height",
        "channels",
        "mean",
        "std",
        "blur",
        "entropy",
        "dark_frac",
        "bright_frac",
    }
    missing = needed - set(files.columns)
    if missing:
        raise ValueError(f"files lacks the scan columns {sorted(missing)}; pass the frame recipe_audit.scan returns")
    extra = [c for c in ("label", "split") if c in files.columns]
    usable = files.filter(
        (pl.col("status") == "ok") & pl.col("mean").is_not_null() & (pl.col("width") > 0) & (pl.col("height") > 0)
    )
    measures = _measures()
    by_label = by_class and "label" in files.columns
    scored = usable.with_columns(
        [_robust_z(e, MEASURES[m], None, t.min_count).alias(f"z_{m}") for m, e in measures.items()]
        + [
            (_robust_z(e, MEASURES[m], "label", t.min_count) if by_label else pl.lit(None, pl.Float64)).alias(f"zc_{m}")
            for m, e in measures.items()
        ]
    )
    flags = _flags(t)
    z_columns = [f"z_{m}" for m in MEASURES] + [f"zc_{m}" for m in MEASURES]
    return (
        scored.with_columns([e.fill_null(False).alias(name) for name, e in flags.items()])
        .with_columns(
            flags=pl.concat_list([pl.when(pl.col(f)).then(pl.lit(f)).otherwise(None) for f in FLAGS]).list.drop_nulls(),
            score=pl.max_horizontal([pl.col(c).abs() for c in z_columns]).fill_null(0.0),
        )
        .select(
            "path",
            *extra,
            "width",
            "height",
            "channels",
            "mean",
            "std",
            "blur",
            "entropy",
            *z_columns,
            *FLAGS,
            "flags",
            "score",
        )
        .sort(["score", "path"], descending=[True, False])
    )


def flag_counts(outliers: pl.DataFrame) -> pl.DataFrame:
    """How many images each flag fired on: ``flag``, ``count`` (every flag listed, zeros included).

    Example:
        >>> recipe_audit.outliers.flag_counts(recipe_audit.find_outliers(files))  # doctest: +SKIP
    """
    return pl.DataFrame(
        {"flag": list(FLAGS), "count": [int(outliers[f].sum()) if outliers.height else 0 for f in FLAGS]},
        schema={"flag": pl.String, "count": pl.UInt32},
    )


__all__ = ["find_outliers", "flag_counts", "OutlierThresholds", "FLAGS", "MEASURES"]
