"""Detection annotations (COCO JSON, YOLO txt) read into one boxes frame per dataset.

Every reader returns one frame in `BOX_SCHEMA`: one row per box, plus one row with null
coordinates for an image that is annotated as having no objects, so that "annotated, empty"
and "never annotated" stay apart. Sizes come from the scan (the decoded image, after EXIF
orientation), not from the annotation file, so a box drawn on the unrotated picture shows up.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl

from recipe_audit.io.manifests import match_to_files
from recipe_audit.schema import PathLike

BOX_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "path": pl.String,
    "found": pl.Boolean,
    "annotation": pl.String,
    "label": pl.String,
    "x": pl.Float64,
    "y": pl.Float64,
    "w": pl.Float64,
    "h": pl.Float64,
    "image_width": pl.UInt32,
    "image_height": pl.UInt32,
    "declared_width": pl.Int64,
    "declared_height": pl.Int64,
    "split": pl.String,
    "area_share": pl.Float64,
    "aspect": pl.Float64,
    "error": pl.String,
}
"""Columns of a boxes frame: ``path`` (the scanned file, or the name the annotation gives when
``found`` is false), ``annotation`` (the file the box comes from), ``label``, ``x``/``y`` (top
left) and ``w``/``h`` in pixels of the decoded image, ``image_width``/``image_height`` (decoded),
``declared_width``/``declared_height`` (what a COCO file says), ``split`` (the image's),
``area_share`` (box area / image area), ``aspect`` (w / h), ``error`` (why a line or entry could
not be read)."""

_YOLO_NAMES = ("classes.txt", "obj.names", "classes.names")


def annotation_kind(labels: object) -> str | None:
    """``coco`` for a COCO JSON file, ``yolo`` for a folder of YOLO txt files, else None (a manifest).

    Example:
        >>> recipe_audit.io.boxes.annotation_kind("annotations/instances_val.json")   # doctest: +SKIP
        'coco'
    """
    if isinstance(labels, pl.DataFrame) or not isinstance(labels, (str, os.PathLike)):
        return None
    path = Path(labels)
    if path.is_dir():
        return "yolo"
    if path.suffix.lower() == ".json" and path.is_file():
        with path.open("rb") as handle:
            head = handle.read(64).removeprefix(b"\xef\xbb\xbf").lstrip()  # a byte-order mark first is common
        if head.startswith(b"{"):  # a manifest is a list of records; an object is COCO
            return "coco"
    return None


def _attach(raw: pl.DataFrame, files: pl.DataFrame, matched: pl.DataFrame) -> pl.DataFrame:
    """Scan path, decoded size, split, pixel boxes, shares; `raw` has ``row`` and pixel or unit boxes."""
    split = pl.col("split") if "split" in files.columns else pl.lit(None, pl.String)
    sizes = files.select("path", image_width="width", image_height="height", split=split)
    first = matched.sort("path").group_by("row").first().select("row", scan_path="path")
    out = (
        raw.join(first, on="row", how="left")
        .with_columns(
            # null for an entry that names no image at all (a COCO annotation with an unknown image_id)
            found=pl.when(pl.col("row").is_null()).then(None).otherwise(pl.col("scan_path").is_not_null()),
            path=pl.coalesce("scan_path", "path"),
        )
        .join(sizes, on="path", how="left")
    )
    if "unit" in out.columns:  # YOLO: centre and size as shares of the image
        W, H = pl.col("image_width").cast(pl.Float64), pl.col("image_height").cast(pl.Float64)
        out = out.with_columns(
            x=(pl.col("x") - pl.col("w") / 2) * W,
            y=(pl.col("y") - pl.col("h") / 2) * H,
            w=pl.col("w") * W,
            h=pl.col("h") * H,
        )
    area = (pl.col("image_width").cast(pl.Float64) * pl.col("image_height")).replace(0, None)
    out = out.with_columns(
        area_share=pl.col("w") * pl.col("h") / area,
        aspect=pl.when(pl.col("h") > 0).then(pl.col("w") / pl.col("h")).otherwise(None),
    )
    for column, dtype in BOX_SCHEMA.items():
        if column not in out.columns:
            out = out.with_columns(pl.lit(None, dtype).alias(column))
    return out.select([pl.col(c).cast(t) for c, t in BOX_SCHEMA.items()]).sort("path", "x", nulls_last=True)


def read_coco(path: PathLike, files: pl.DataFrame, *, root: PathLike | None = None) -> pl.DataFrame:
    """Read a COCO detection file (``images``, ``annotations``, ``categories``) against the scan.

    Args:
        path: the JSON file.
        files: the scan frame of the images (sizes, splits and which files exist come from it).
        root: the folder ``file_name`` is relative to; without it, a file whose path ends with
            ``file_name`` matches.

    Returns:
        A frame in `BOX_SCHEMA` (``bbox`` [x, y, w, h] is already in pixels in COCO).

    Example:
        >>> files = recipe_audit.scan("coco/val2017")                                       # doctest: +SKIP
        >>> boxes = recipe_audit.read_coco("coco/annotations/instances_val2017.json", files)  # doctest: +SKIP
    """
    data = json.loads(Path(path).read_bytes().decode("utf-8-sig"))
    if not isinstance(data, dict) or "images" not in data:
        raise ValueError(f"read_coco: {path} has no 'images' list; is it a COCO detection file?")
    try:
        images = pl.from_dicts(
            data["images"] or [], schema={"id": pl.Int64, "file_name": pl.String, "width": pl.Int64, "height": pl.Int64}
        )
        anns = pl.from_dicts(
            data.get("annotations") or [],
            schema={"image_id": pl.Int64, "category_id": pl.Int64, "bbox": pl.List(pl.Float64)},
        )
        cats = pl.from_dicts(data.get("categories") or [], schema={"id": pl.Int64, "name": pl.String})
    except (pl.exceptions.PolarsError, TypeError, ValueError) as error:
        raise ValueError(f"read_coco: {path}: ids must be whole numbers and bbox a list of numbers ({error})") from None
    for table, what in ((images, "images"), (cats, "categories")):
        repeated = table.filter(pl.col("id").is_duplicated())["id"]
        if repeated.len():  # every box of that image or class would be counted twice
            raise ValueError(f"read_coco: {path}: id {repeated[0]} appears more than once in {what}")
    images = images.with_row_index("row")
    matched, _ = match_to_files(files, images.select(path="file_name"), root)
    boxes = anns.join(cats.select(category_id="id", label="name"), on="category_id", how="left").with_columns(
        error=pl.when(pl.col("bbox").is_null() | (pl.col("bbox").list.len() != 4) | pl.col("bbox").list.contains(None))
        .then(pl.lit("bbox must hold 4 numbers [x, y, w, h]"))
        .when(pl.col("category_id").is_null())
        .then(pl.lit("annotation has no category_id"))
        .when(pl.col("label").is_null())
        .then(pl.format("category_id {} is not in categories", pl.col("category_id")))
        .otherwise(None),
        label=pl.coalesce("label", pl.col("category_id").cast(pl.String)),
        x=pl.col("bbox").list.get(0, null_on_oob=True),
        y=pl.col("bbox").list.get(1, null_on_oob=True),
        w=pl.col("bbox").list.get(2, null_on_oob=True),
        h=pl.col("bbox").list.get(3, null_on_oob=True),
    )
    rows = images.join(boxes, left_on="id", right_on="image_id", how="left").select(
        "row",
        path="file_name",
        annotation=pl.lit(os.fspath(path)),
        label="label",
        x="x",
        y="y",
        w="w",
        h="h",
        declared_width="width",
        declared_height="height",
        error="error",
    )
    orphans = anns.join(images, left_on="image_id", right_on="id", how="anti").select(
        row=pl.lit(None, pl.UInt32),
        path=pl.format("image_id {}", pl.col("image_id")),
        annotation=pl.lit(os.fspath(path)),
        error=pl.lit("annotation for an image_id that is not in images"),
    )
    return _attach(pl.concat([rows, orphans], how="diagonal_relaxed"), files, matched)


def _yolo_names(directory: Path, names: list[str] | None) -> list[str] | None:
    if names is not None:
        return list(names)
    for folder in (directory, directory.parent):
        for name in _YOLO_NAMES:
            if (folder / name).is_file():
                return [
                    line.strip()
                    for line in (folder / name).read_text(encoding="utf-8-sig").splitlines()
                    if line.strip()
                ]
    return None


def read_yolo(directory: PathLike, files: pl.DataFrame, *, names: list[str] | None = None) -> pl.DataFrame:
    """Read YOLO label files (``<class> <cx> <cy> <w> <h>`` in shares of the image, one box a line).

    ``labels/train/x.txt`` belongs to the image whose path, without extension, ends with
    ``train/x`` (so ``images/train/x.jpg`` in the usual layout, or ``x.jpg`` beside it). A
    segmentation line (class and polygon) counts as the polygon's bounding box.

    Args:
        directory: the labels folder (walked; ``classes.txt`` / ``obj.names`` give the names).
        files: the scan frame of the images.
        names: class names by index (default: from ``classes.txt``, ``obj.names`` here or one
            level up, else the indices as text).

    Returns:
        A frame in `BOX_SCHEMA`; an empty txt file is an image annotated as having no objects.

    Example:
        >>> boxes = recipe_audit.read_yolo("data/labels", recipe_audit.scan("data/images"))  # doctest: +SKIP
    """
    folder = Path(directory)
    if not folder.is_dir():
        raise FileNotFoundError(f"read_yolo: {str(folder)!r} is not a folder of YOLO .txt label files")
    txts = sorted(p for p in folder.rglob("*.txt") if p.name not in _YOLO_NAMES)
    class_names = _yolo_names(folder, names)
    texts = pl.DataFrame(
        {
            "annotation": [str(p) for p in txts],
            "text": [p.read_text(encoding="utf-8-sig", errors="replace") for p in txts],
        },
        schema={"annotation": pl.String, "text": pl.String},
    ).with_row_index("row")
    keys = texts.select(path=pl.col("annotation").str.strip_prefix(str(folder) + "/").str.strip_suffix(".txt"))
    matched, _ = match_to_files(files, keys, None, strip_extension=True)
    lines = (
        texts.with_columns(line=pl.col("text").str.split("\n"))
        .explode("line")
        .with_columns(numbers=pl.col("line").str.extract_all(r"\S+"))
        .filter(pl.col("numbers").list.len() > 0)
    )
    values = pl.col("numbers").list.eval(pl.element().cast(pl.Float64, strict=False))
    coords = pl.col("values").list.slice(1)
    xs, ys = coords.list.gather_every(2, 0), coords.list.gather_every(2, 1)
    polygon = pl.col("values").list.len() > 5
    parsed = lines.with_columns(values=values).with_columns(
        cls=pl.col("values").list.first(),
        x=pl.when(polygon).then((xs.list.min() + xs.list.max()) / 2).otherwise(coords.list.get(0, null_on_oob=True)),
        y=pl.when(polygon).then((ys.list.min() + ys.list.max()) / 2).otherwise(coords.list.get(1, null_on_oob=True)),
        w=pl.when(polygon).then(xs.list.max() - xs.list.min()).otherwise(coords.list.get(2, null_on_oob=True)),
        h=pl.when(polygon).then(ys.list.max() - ys.list.min()).otherwise(coords.list.get(3, null_on_oob=True)),
    )
    index = pl.col("cls").cast(pl.Int64, strict=False)
    if class_names:
        label = index.replace_strict(list(range(len(class_names))), class_names, default=None, return_dtype=pl.String)
    else:
        label = index.cast(pl.String)
    bad = (
        (pl.col("values").list.len() < 5)
        | (polygon & (pl.col("values").list.len() % 2 == 0))
        | pl.col("values").list.contains(None)
    )
    parsed = parsed.with_columns(label=label).with_columns(
        error=pl.when(bad)
        .then(pl.format("cannot read line '{}': need class cx cy w h", pl.col("line").str.strip_chars()))
        .when((pl.col("cls") != pl.col("cls").round()) | (pl.col("cls") < 0) | pl.col("label").is_null())
        .then(pl.format("class {} is not a known class index", pl.col("numbers").list.first()))
        .otherwise(None),
    )
    parsed = parsed.with_columns(
        pl.when(pl.col("error").is_null()).then(pl.col(c)).otherwise(None).alias(c) for c in "xywh"
    )
    empty = texts.join(lines.select("row").unique(), on="row", how="anti").select("row", "annotation")
    raw = (
        pl.concat(
            [
                parsed.select("row", "annotation", "label", "x", "y", "w", "h", "error"),
                empty,
            ],
            how="diagonal_relaxed",
        )
        .join(keys.with_row_index("row"), on="row")
        .with_columns(unit=pl.lit(True))
    )
    return _attach(raw, files, matched)


def read_boxes(annotations: PathLike, files: pl.DataFrame, *, root: PathLike | None = None) -> pl.DataFrame:
    """`read_coco` for a JSON file, `read_yolo` for a folder.

    Example:
        >>> boxes = recipe_audit.read_boxes("labels/", recipe_audit.scan("images/"))  # doctest: +SKIP
    """
    kind = annotation_kind(annotations)
    if kind == "coco":
        return read_coco(annotations, files, root=root)
    if kind == "yolo":
        return read_yolo(annotations, files)
    raise ValueError(
        f"read_boxes: {os.fspath(annotations)!r} is neither a COCO JSON file nor a folder of YOLO txt files"
    )


__all__ = ["read_boxes", "read_coco", "read_yolo", "annotation_kind", "BOX_SCHEMA"]
