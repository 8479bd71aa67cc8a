"""Detection boxes checked against the images, and their statistics (boxes from `recipe_audit.io.boxes`)."""

from __future__ import annotations

import polars as pl

_TOLERANCE = 0.5  # pixels a box may overhang the image before it counts as outside


def box_issues(boxes: pl.DataFrame, files: pl.DataFrame) -> pl.DataFrame:
    """Boxes and images that do not line up.

    Returns:
        ``path``, ``issue``, ``detail``; issues: ``outside`` (the box leaves the decoded image by
        more than half a pixel), ``zero_size`` (w or h <= 0), ``size_mismatch`` (the annotation
        declares another width x height than the decoded image: often EXIF rotation),
        ``malformed`` (a line or entry that cannot be read, or an unknown class),
        ``missing_image`` (annotations for a file that was not scanned), ``no_annotation`` (a
        decoded image no annotation mentions). Sorted by issue, path.

    Example:
        >>> recipe_audit.analysis.boxes.box_issues(boxes, files)      # doctest: +SKIP
    """
    W, H = pl.col("image_width").cast(pl.Float64), pl.col("image_height").cast(pl.Float64)
    box = pl.format("{} box [{}, {}, {}, {}]", pl.col("label"), *(pl.col(c).round(1) for c in "xywh"))
    size = pl.format("{}x{}", pl.col("image_width"), pl.col("image_height"))
    has_box = pl.col("x").is_not_null() & pl.col("found")
    t = _TOLERANCE
    outside = (
        (pl.col("x") < -t)
        | (pl.col("y") < -t)
        | (pl.col("x") + pl.col("w") > W + t)
        | (pl.col("y") + pl.col("h") > H + t)
    )
    frames = [
        boxes.filter(has_box & outside & (pl.col("w") > 0) & (pl.col("h") > 0)).select(
            "path", issue=pl.lit("outside"), detail=pl.format("{} outside {}", box, size)
        ),
        boxes.filter(has_box & ((pl.col("w") <= 0) | (pl.col("h") <= 0))).select(
            "path", issue=pl.lit("zero_size"), detail=box
        ),
        boxes.filter(
            pl.col("found")
            & pl.col("declared_width").is_not_null()
            & (
                (pl.col("declared_width") != pl.col("image_width"))
                | (pl.col("declared_height") != pl.col("image_height"))
            )
        )
        .unique("path")
        .select(
            "path",
            issue=pl.lit("size_mismatch"),
            detail=pl.format("declared {}x{}, decoded {}", "declared_width", "declared_height", size),
        ),
        boxes.filter(pl.col("error").is_not_null()).select(
            "path", issue=pl.lit("malformed"), detail=pl.format("{}: {}", "annotation", "error")
        ),
        boxes.filter(~pl.col("found"))
        .unique(["path", "annotation"])
        .select(
            "path",
            issue=pl.lit("missing_image"),
            detail=pl.format("named in {}; no such image was scanned", "annotation"),
        ),
        files.filter(pl.col("status") == "ok")
        .join(boxes.filter(pl.col("found")), on="path", how="anti")
        .select("path", issue=pl.lit("no_annotation"), detail=pl.lit("no annotation mentions this image")),
    ]
    return pl.concat(frames).sort("issue", "path", maintain_order=True)


def box_stats(boxes: pl.DataFrame) -> pl.DataFrame:
    """Per class: ``label``, ``boxes``, ``images``, ``area_share`` quantiles (``area_p05``,
    ``area_median``, ``area_p95``), ``aspect_median``, ``small`` (share of boxes under 32x32 px, the
    COCO "small" objects). Sorted by boxes, largest first.

    Example:
        >>> recipe_audit.analysis.boxes.box_stats(boxes)       # doctest: +SKIP
    """
    real = boxes.filter(pl.col("x").is_not_null() & pl.col("label").is_not_null())
    return (
        real.group_by("label")
        .agg(
            boxes=pl.len().cast(pl.UInt32),
            images=pl.col("path").n_unique().cast(pl.UInt32),
            area_p05=pl.col("area_share").quantile(0.05),
            area_median=pl.col("area_share").median(),
            area_p95=pl.col("area_share").quantile(0.95),
            aspect_median=pl.col("aspect").median(),
            small=((pl.col("w") * pl.col("h")) < 32 * 32).mean(),
        )
        .sort(["boxes", "label"], descending=[True, False])
    )


def boxes_per_image(boxes: pl.DataFrame) -> pl.DataFrame:
    """Per annotated, scanned image: ``path``, ``split``, ``boxes`` (0 for an image annotated empty).

    Example:
        >>> recipe_audit.analysis.boxes.boxes_per_image(boxes)["boxes"].describe()   # doctest: +SKIP
    """
    found = boxes.filter(pl.col("found"))
    return (
        found.group_by("path")
        .agg(pl.col("split").first(), boxes=pl.col("x").is_not_null().sum().cast(pl.UInt32))
        .sort("path")
    )


__all__ = ["box_issues", "box_stats", "boxes_per_image"]
