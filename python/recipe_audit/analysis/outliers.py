"""Odd images: robust per-measure scores (median / MAD) over the scan frame, and named flags.

Two kinds of evidence, kept apart on purpose:

- **Scores** are relative: for each measure, how many robust standard deviations an image lies from
  the median of the dataset (``z_*``) and of its class (``zc_*``). They rank; they do not judge.
- **Flags** are named judgements with documented thresholds (`OutlierThresholds`). Picture-quality
  flags (``dark``, ``bright``, ``blurry``, ``low_information``) are absolute, because a dataset that
  is half blurry must not make blur look normal; shape flags (``odd_size``, ``odd_aspect``,
  ``grayscale``) are relative to the dataset, because "odd" only means something against the rest.

The thresholds are fitted on one half of a corpus of real pictures from many sources and reported on
the other half (``benches/studies/outlier_heldout.py``, BENCHMARKS.md "Outlier flags, held out"): a flag that
fires on an ordinary photo is a bug. Each flag asks what its name says, not a proxy that confuses
kinds of pictures: ``blurry`` asks whether the strong edges that exist are soft (``sharpness``), not
whether there are few edges (a clear sky, fog, a wall or a night scene have few edges, all crisp);
``dark`` asks whether even the brightest part of the picture is dim (``luma_p999``: a night scene
keeps its lights, a night sky its stars) and its colour faint (a fluorescence image of blue nuclei
is dim in luma, not underexposed), ``bright`` whether even the darkest part is light (``luma_p01``: a text page
keeps its ink) or nearly all of it is blown to white (``mean``: a brightness gain clips a photograph
but leaves its deepest shadows gray); ``grayscale`` sees gray pictures stored as RGB (``colorfulness``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import polars as pl

from recipe_audit.schema import require_columns

FLAGS: tuple[str, ...] = ("dark", "bright", "blurry", "low_information", "odd_size", "odd_aspect", "grayscale")
"""Every flag `find_outliers` can raise, in the order of the ``flags`` list column."""

MEASURES: dict[str, float] = {
    "brightness": 4.0,
    "contrast": 2.0,
    "sharpness": 0.05,
    "colorfulness": 2.0,
    "entropy": 0.1,
    "size": 0.05,
    "aspect": 0.03,
}
"""Scored measures and the smallest spread (scale floor) each is given: a dataset whose images all
share one size must not turn a 1-pixel difference into a huge score. brightness = luma mean,
contrast = luma std, sharpness = the scan's ``sharpness`` (share of strong edges that are crisp;
null without enough edges), colorfulness = Hasler-Süsstrunk, entropy = bits, size = log of the
geometric mean side sqrt(width * height), aspect = log(long side / short side), the elongation
(orientation left out: portrait and landscape photos are both ordinary)."""

_MAD_TO_SIGMA = 1.4826
_IQR_TO_SIGMA = 1.349
_Z_CAP = 99.0


@dataclasses.dataclass(frozen=True)
class OutlierThresholds:
    """When each flag fires. Every field can be changed: ``OutlierThresholds(dark_p999=30)``; from
    the CLI, ``recipe-audit audit DIR --threshold dark_p999=30 --threshold sharpness_max=0.05``.

    The defaults were fitted on the tuning half of ``benches/studies/outlier_heldout.py`` (real photographs
    of several sources, with planted faults) and checked on the held-out half (BENCHMARKS.md).
    Every value must be finite, the two factors above 1 and the counts not negative: anything
    else is a `ValueError` naming the field (``nan`` once flagged every image).

    Attributes:
        dark_p999: ``dark`` when 99.9% of the pixels have luma <= this (0-255): even the
            brightest speck is dim. An underexposed photo qualifies (its whole range is squeezed
            below it); a night scene with lights, a night sky with stars, or a lit subject on
            black does not. (Until measures revision 5 the 99th percentile was used: a photograph
            of a galaxy, 99% black sky, was called dark.)
        dark_colorfulness: ... and its colourfulness is under this. Luma weighs blue at 0.11, so
            a fluorescence image of blue nuclei at 200 on black measures luma 23 at its brightest,
            yet it is vivid, not underexposed. Darkening scales colourfulness by its factor: the
            most colourful photograph of the tuning halves (154) measures 18.5 at x0.12, the
            mildest darkening the flag is owed, so every such fault stays under 20.
        bright_p01: ``bright`` when 99% of the pixels have luma >= this: even the darkest part is
            light (washed out). A snowy scene with a tree, or a text page, keeps darker parts and
            stays unflagged.
        bright_mean: ... or when the mean luma is >= this: nearly all of the picture is blown to
            white. A brightness gain (x3, +150) clips most of a photograph but leaves its deepest
            shadows gray, so its darkest 1% stays low; a text page on white paper averages under
            it (its lines of ink, seen at the scan's scale, are gray bands).
        bright_mean_dataset: ... a leg that applies only in a dataset whose median mean luma is
            under this: in a set of line drawings or sparse pages on white paper, nearly white is
            the medium, not a fault.
        bright_edges: ... or when the outline of the clipped white (scan column ``clip_edges``:
            neighbours of which one is clipped, in sides of the 64x64 square) is at least this
            long, ``bright_edges_min`` of it in each direction, and the mean luma at least
            ``bright_edges_mean``: a gain or an overexposure clips a photograph wherever it was
            light, in ragged patches, and keeps its shadows; a blown sky, a snowfield or a white
            background is one smooth region. Chosen on the tuning halves (BENCHMARKS.md,
            "`bright` by the clipped outline"): gains x3-x12 and +3-4.5 stops found 0.63 -> 0.83
            with no more false flags among 2,406 ordinary photographs.
        bright_edges_min: see ``bright_edges`` (scan column ``clip_edges_min``).
        bright_edges_mean: see ``bright_edges``.
        bright_edges_depth: ... and the pixels along that outline lie on average less than this
            far below white (scan column ``clip_edge_depth``): a gain reaches white gradually
            (the faults of the tuning halves: median 8-29), a subject cut out on a white
            background or ink on paper steps down at once (cut-outs on white: median 47; a third
            of them would be `bright` without it).
        text_rows: the ``mean`` and ``clip_edges`` legs of ``bright`` do not fire when at least
            this share of the change from row to row is shared by whole rows (scan column
            ``row_coherence``): lines of text on white paper, whose white is the page.
        sharpness_max: ``blurry`` when at most this share of the strong edges is crisp (scan
            column ``sharpness``): the edges that exist are soft. Pictures with too few strong
            edges to judge (sky, fog, a blank wall) have a null ``sharpness`` and are never blurry.
        sharpness_fine_max: ... or when at most this share is crisp one decode scale finer (scan
            column ``sharpness_fine``, measured where ``sharpness`` is 0.5 or less): a blur of
            about 1% of the image side is under two pixels at the scan's scale, and shows there.
        smear_max: ... or when a smear shows (camera shake, a moving subject): on the finer look,
            along the softest of four directions (rows, columns, both diagonals) at most this share
            of the strong edges is crisp (scan column ``sharpness_least``), ...
        smear_gap: ... at least this much more across it (``sharpness_gap``: the edges along a
            smear stay crisp, so pooled they read as sharp) ...
        smear_balance: ... and the two directions have comparable numbers of strong edges: the
            softest one between this many and its inverse per strong edge across it
            (``edge_balance``, 0.4-2.5). Blinds, a horizon, streaked clouds or a misty shore have
            few edges one way by nature, and are not smears (on the tuning half every ordinary
            picture the smear leg flagged had 6-20; smears a median of 0.64).
        blur_min_side: ``blurry`` is not judged on images whose shorter side is below this (the
            measure then sees the upscaling, not the photo), nor on flat ones (``low_information``).
        flat_std: ``low_information`` when the luma std <= this: a blank or solid frame, also
            with a faint gradient or noise (a ramp of +-5 levels measures about 3). (Entropy is not
            used: an icon on a plain background has few distinct levels but is not empty.)
        flat_chroma: ... and its colour varies by at most this much (the spread of the opponent
            colours, the colourfulness less its mean part): a blank frame is flat in colour too.
            Blue nuclei on black vary by 0.11 of their brightness in luma (luma weighs blue at
            0.11) but a lot in colour; a colour gradient wallpaper is flat in luma, not in colour.
            The planted blank frames of the tuning halves vary by at most 1.2.
        gray_colorfulness: an image stored in colour is gray when its colourfulness is below this
            (Hasler-Süsstrunk: exactly 0 for R = G = B, below 0.2 after JPEG; muted photographs
            measure 1 and more).
        size_factor: ``odd_size`` when the geometric mean side sqrt(w h) is this many times
            smaller or larger than the dataset's median ...
        aspect_factor: ``odd_aspect`` when the elongation (long side / short side) is this many
            times the dataset's median elongation (portrait and landscape are both ordinary, so
            orientation alone never flags) ...
        z: ... and, for both, the robust score (median / MAD) is at least this far out.
        color_share: ``grayscale`` when an image is gray (stored with 1 or 2 channels, or in
            colour below ``gray_colorfulness``) in a dataset where at least this share is colourful
            (a network then sees two kinds of input; below it, gray is a regular part of the data).
        min_count: relative flags (size, aspect, grayscale) and scores need at least this many
            decoded images; class scores need this many in the class.
    """

    dark_p999: float = 45.0
    dark_colorfulness: float = 20.0
    bright_p01: float = 210.0
    bright_mean: float = 240.0
    bright_mean_dataset: float = 200.0
    bright_edges: float = 4.5
    bright_edges_min: float = 1.75
    bright_edges_mean: float = 150.0
    bright_edges_depth: float = 20.0
    text_rows: float = 0.2
    sharpness_max: float = 0.02
    sharpness_fine_max: float = 0.005
    smear_max: float = 0.05
    smear_gap: float = 0.10
    smear_balance: float = 0.4
    blur_min_side: int = 64
    flat_std: float = 3.5
    flat_chroma: float = 7.0
    gray_colorfulness: float = 1.0
    size_factor: float = 4.0
    aspect_factor: float = 2.5
    z: float = 3.5
    color_share: float = 0.75
    min_count: int = 8

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not math.isfinite(value):
                raise ValueError(f"OutlierThresholds.{field.name} must be a finite number, not {value!r}")
        if not 0 < self.smear_balance <= 1:
            raise ValueError(
                "OutlierThresholds.smear_balance bounds edge_balance from below, and its inverse from "
                f"above: it must be in (0, 1], not {self.smear_balance!r}"
            )
        for name in ("size_factor", "aspect_factor"):
            if getattr(self, name) <= 1:
                raise ValueError(
                    f"OutlierThresholds.{name} is a factor off the median and must be above 1, not {getattr(self, name)!r}"
                )
        for name in ("blur_min_side", "min_count"):
            if getattr(self, name) < 0:
                raise ValueError(
                    f"OutlierThresholds.{name} is a count and cannot be negative, not {getattr(self, name)!r}"
                )

    @classmethod
    def from_strings(cls, settings: Sequence[str]) -> OutlierThresholds:
        """Thresholds from ``name=value`` strings (the CLI's ``--threshold``); unknown names and
        values that are not numbers are a `ValueError` naming the choices.

        >>> OutlierThresholds.from_strings(["dark_p999=30"]).dark_p999
        30.0
        """
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, float | int] = {}
        for setting in settings:
            name, sep, raw = setting.partition("=")
            name = name.strip()
            if not sep or name not in fields:
                raise ValueError(f"threshold {setting!r}: expected NAME=VALUE with NAME one of {', '.join(fields)}")
            try:
                number = float(raw)
            except ValueError:
                raise ValueError(f"threshold {setting!r}: {raw!r} is not a number") from None
            if fields[name].type in (int, "int"):
                if not number.is_integer():
                    raise ValueError(f"threshold {setting!r}: {name} takes a whole number")
                values[name] = int(number)
            else:
                values[name] = number
        return cls(**values)  # type: ignore[arg-type]

    def rules(self) -> dict[str, str]:
        """Each flag's rule in words, with these thresholds (the report prints it beside each flag)."""
        return {
            "dark": f"99.9% of the pixels at luma <= {self.dark_p999:g}, colorfulness under {self.dark_colorfulness:g}",
            "bright": f"99% of the pixels at luma >= {self.bright_p01:g}; or, unless lines of text (row_coherence "
            f">= {self.text_rows:g}), mean luma >= {self.bright_mean:g} where the dataset's median is under "
            f"{self.bright_mean_dataset:g}, or clipped white in ragged patches reached gradually (clip_edges >= "
            f"{self.bright_edges:g}, >= {self.bright_edges_min:g} each way, clip_edge_depth < "
            f"{self.bright_edges_depth:g}, mean >= {self.bright_edges_mean:g})",
            "blurry": f"sharpness <= {self.sharpness_max:g} or sharpness_fine <= {self.sharpness_fine_max:g} "
            f"(share of strong edges that are crisp, at the scan's scale or one finer), or a smear (one finer, along "
            f"the softest of four directions sharpness_least <= {self.smear_max:g}, sharpness_gap >= "
            f"{self.smear_gap:g} across it, edge_balance {self.smear_balance:g}-{1 / self.smear_balance:g}), "
            f"shorter side >= {self.blur_min_side}",
            "low_information": f"luma std <= {self.flat_std:g} and colour spread <= {self.flat_chroma:g}: a blank or solid frame",
            "odd_size": f"sqrt(w h) {self.size_factor:g}x off the median and |z| >= {self.z:g}",
            "odd_aspect": f"elongation {self.aspect_factor:g}x the median and z >= {self.z:g}",
            "grayscale": f"no colour (1-2 channels or colorfulness < {self.gray_colorfulness:g}) where >= {self.color_share:.0%} are colourful",
        }

    def measured(self, flag: str) -> tuple[str, str, float]:
        """The column a flag is judged on, the comparison and the threshold: the report shows the
        picture's value beside them ("sharpness 0.004 (<= 0.02)"). For a flag with several ways to
        fire (``blurry``), the first; `legs` gives them all."""
        return self.legs(flag)[0]

    def legs(self, flag: str) -> tuple[tuple[str, str, float], ...]:
        """Every (column, comparison, threshold) a flag fires on, any one being enough (with the
        `conditions` of each leg holding too)."""
        return {
            "dark": (("luma_p999", "<=", self.dark_p999),),
            "bright": (
                ("luma_p01", ">=", self.bright_p01),
                ("mean", ">=", self.bright_mean),
                ("clip_edges", ">=", self.bright_edges),
            ),
            "blurry": (
                ("sharpness", "<=", self.sharpness_max),
                ("sharpness_fine", "<=", self.sharpness_fine_max),
                ("sharpness_least", "<=", self.smear_max),
            ),
            "low_information": (("std", "<=", self.flat_std),),
            "odd_size": (("z_size", "|z| >=", self.z),),
            "odd_aspect": (("z_aspect", ">=", self.z),),
            "grayscale": (("colorfulness", "<", self.gray_colorfulness),),
        }[flag]

    def conditions(self, flag: str) -> tuple[tuple[tuple[str, str, float, bool], ...], ...]:
        """Per leg of `legs`, the (column, comparison, threshold, outcome when the value is
        unknown) that must hold as well for it to fire on a picture (the dataset-wide
        conditions, such as the median of ``bright``, aside). An unmeasured guard guards nothing
        (the text guard holds); an unmeasured requirement fails."""
        if flag == "bright":
            text = ("row_coherence", "<", self.text_rows, True)
            return (
                (),
                (text,),
                (
                    ("clip_edges_min", ">=", self.bright_edges_min, False),
                    ("mean", ">=", self.bright_edges_mean, False),
                    ("clip_edge_depth", "<", self.bright_edges_depth, False),
                    text,
                ),
            )
        if flag == "blurry":
            smear = (
                ("sharpness_gap", ">=", self.smear_gap, False),
                ("edge_balance", ">=", self.smear_balance, False),
                ("edge_balance", "<=", 1 / self.smear_balance, False),
            )
            return ((), (), smear)
        return tuple(() for _ in self.legs(flag))


def _measures() -> dict[str, pl.Expr]:
    w = pl.col("width").cast(pl.Float64)
    h = pl.col("height").cast(pl.Float64)
    return {
        "brightness": pl.col("mean"),
        "contrast": pl.col("std"),
        "sharpness": pl.col("sharpness"),
        "colorfulness": pl.col("colorfulness"),
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


def _chroma_spread() -> pl.Expr:
    """How much the colour varies across the picture: the standard deviation part of the
    colourfulness, sqrt(var rg + var yb), from the scan's colourfulness and mean opponent colours
    (null where they are unknown)."""
    mean_part = 0.3 * (pl.col("chroma_rg") ** 2 + pl.col("chroma_yb") ** 2).sqrt()
    return (pl.col("colorfulness") - mean_part).clip(lower_bound=0.0)


def _compared(column: str, op: str, limit: float) -> pl.Expr:
    return {"<=": pl.col(column) <= limit, "<": pl.col(column) < limit, ">=": pl.col(column) >= limit}[op]


def _fired(t: OutlierThresholds, flag: str) -> list[pl.Expr]:
    """Per leg of a flag, whether it fires: its comparison and its `OutlierThresholds.conditions`,
    so the flag and the report's cards read one definition."""
    return [
        pl.all_horizontal(
            _compared(*leg).fill_null(False),
            *[_compared(column, op, limit).fill_null(unknown) for column, op, limit, unknown in more],
        )
        for leg, more in zip(t.legs(flag), t.conditions(flag), strict=True)
    ]


def _bright(t: OutlierThresholds) -> pl.Expr:
    """Even the darkest part light; or, unless the picture is lines of text on a page, nearly all
    of it white, or its white clipped in ragged patches reached gradually."""
    fired = _fired(t, "bright")
    washed_out, others = fired[0], fired[1:]
    # In a dataset of line drawings or pages on white paper (median near white), white is the
    # medium: neither the mean nor the clipped outline says anything there.
    light_dataset = pl.col("mean").median() >= t.bright_mean_dataset
    return washed_out | (pl.any_horizontal(others) & ~light_dataset)


def _flags(t: OutlierThresholds) -> dict[str, pl.Expr]:
    w = pl.col("width").cast(pl.Float64)
    h = pl.col("height").cast(pl.Float64)
    size_ratio = (w * h).sqrt() / (w * h).sqrt().median()
    log_elongation = _measures()["aspect"]
    elongation_ratio = (log_elongation - log_elongation.median()).exp()
    enough = pl.len() >= t.min_count
    gray = (pl.col("channels") <= 2) | (pl.col("colorfulness") < t.gray_colorfulness)
    colourful = (pl.col("channels") >= 3) & (pl.col("colorfulness") >= t.gray_colorfulness)
    # The share is taken over pictures whose colour is known (GIF and CMYK are not measured).
    known = (pl.col("channels") <= 2) | pl.col("colorfulness").is_not_null()
    return {
        "dark": (pl.col("luma_p999") <= t.dark_p999) & (pl.col("colorfulness") < t.dark_colorfulness).fill_null(True),
        "bright": _bright(t),
        "blurry": (pl.min_horizontal(w, h) >= t.blur_min_side)
        & (pl.col("std") > t.flat_std)
        & pl.col("sharpness").is_not_null()
        & pl.any_horizontal(_fired(t, "blurry")),
        "low_information": (pl.col("std") <= t.flat_std) & (_chroma_spread() <= t.flat_chroma).fill_null(True),
        "odd_size": enough
        & ((size_ratio >= t.size_factor) | (size_ratio <= 1.0 / t.size_factor))
        & (pl.col("z_size").abs() >= t.z),
        "odd_aspect": enough & (elongation_ratio >= t.aspect_factor) & (pl.col("z_aspect") >= t.z),
        "grayscale": enough & gray & (colourful.filter(known).mean() >= t.color_share),
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
        ``label``, ``split``, ``width``, ``height``, the measures (``mean``, ``std``, ``luma_p01``,
        ``luma_p99``, ``sharpness``, ``sharpness_fine``, ``colorfulness``, ``blur`` (deprecated), ``entropy``,
        ``clip_edges``, ``clip_edges_min``, ``clip_edge_depth``, ``row_coherence``, ``channels``), ``z_<measure>`` for each of `MEASURES` (robust score against
        the whole dataset: (x - median) / max(1.4826 MAD, IQR / 1.349, floor), capped at ±99;
        null under ``min_count`` images), ``zc_<measure>`` (the same within the image's class;
        null for classes under ``min_count``), one boolean column per flag in `FLAGS`, ``flags``
        (the names that fired, as a list) and ``score`` (the largest absolute score, overall or
        within class: the order in which to look).

    Example:
        >>> odd = recipe_audit.find_outliers(recipe_audit.scan("data/"))        # doctest: +SKIP
        >>> odd.filter(pl.col("blurry")).select("path", "sharpness", "score")     # doctest: +SKIP
    """
    t = thresholds if thresholds is not None else OutlierThresholds()
    if not isinstance(t, OutlierThresholds):
        raise TypeError("thresholds must be an OutlierThresholds, e.g. OutlierThresholds(dark_p999=30)")
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
        "luma_p01",
        "luma_p99",
        "sharpness",
        "colorfulness",
    }
    require_columns(files, needed)
    extra = [c for c in ("label", "split") if c in files.columns]
    # Scanned by a release before them: unknown (no finer look, no smear).
    for column in ("sharpness_fine", "sharpness_least", "sharpness_gap", "edge_balance"):
        if column not in files.columns:
            files = files.with_columns(pl.lit(None, pl.Float64).alias(column))
    if "luma_p999" not in files.columns:  # scanned before measures revision 5: the nearest there is
        files = files.with_columns(luma_p999=pl.col("luma_p99"))
    # Scanned before the mean colour, or the clipped outline and the rows' coherence, were kept: unknown.
    for column in ("chroma_rg", "chroma_yb", "clip_edges", "clip_edges_min", "clip_edge_depth", "row_coherence"):
        if column not in files.columns:
            files = files.with_columns(pl.lit(None, pl.Float64).alias(column))
    # A NaN in a frame built elsewhere is an unknown value, not one above every threshold.
    files = files.with_columns(pl.col(pl.Float32, pl.Float64).fill_nan(None))
    usable = files.filter(
        (pl.col("status") == "ok") & pl.col("mean").is_not_null() & (pl.col("width") > 0) & (pl.col("height") > 0)
    )
    measures = _measures()
    by_label = by_class and "label" in files.columns
    scored = usable.with_columns(
        [_robust_z(e, MEASURES[m], None, t.min_count).alias(f"z_{m}") for m, e in measures.items()]
        + [
            # Unlabelled images have no class to be scored within (they are not a class of their own).
            (
                pl.when(pl.col("label").is_not_null()).then(_robust_z(e, MEASURES[m], "label", t.min_count))
                if by_label
                else pl.lit(None, pl.Float64)
            ).alias(f"zc_{m}")
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
            "luma_p01",
            "luma_p99",
            "luma_p999",
            "sharpness",
            "sharpness_fine",
            "sharpness_least",
            "sharpness_gap",
            "edge_balance",
            "colorfulness",
            "blur",
            "entropy",
            "clip_edges",
            "clip_edges_min",
            "clip_edge_depth",
            "row_coherence",
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
        >>> recipe_audit.analysis.outliers.flag_counts(recipe_audit.find_outliers(files))  # doctest: +SKIP
    """
    return pl.DataFrame(
        {"flag": list(FLAGS), "count": [int(outliers[f].sum()) if outliers.height else 0 for f in FLAGS]},
        schema={"flag": pl.String, "count": pl.UInt32},
    )


__all__ = ["find_outliers", "flag_counts", "OutlierThresholds", "FLAGS", "MEASURES"]
