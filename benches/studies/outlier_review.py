"""By-eye check of the outlier flags on real photographs: what fires, on what, and what is missed.

    python -m benches.studies.outlier_review [DIR] [--per-source N]

Builds, from the photographs shipped inside scikit-image / scikit-learn (nothing downloaded):

- ``ordinary/<source>/``: N random crops (30-90% of each side, long side 200-800 px) per source
  photo, saved as JPEG in color (gray sources stay gray in RGB), the way ordinary data looks;
- ``traps/<kind>/``: images that are ordinary but fool naive measures: ``sky`` (the sky strips of
  the rocket and china photos: flat but sharp), ``large`` (full-size photos, 1000-1411 px),
  ``icons`` (small drawn glyphs, 24-48 px, in a folder of their own to be judged against each other
  via ``--icons``);
- ``planted/<kind>/``: real faults made from crops: ``blurred`` (Gaussian, 2-4% of the long side),
  ``dark`` (luma x 0.12), ``bright`` (overexposed), ``blank`` (a solid frame with JPEG noise),
  ``tiny`` (24-40 px), ``strip`` (7:1 crop), ``gray`` (stored with one channel);

then scans it, runs `find_outliers`, prints for every flag how many images of each folder it fires
on, and writes one contact sheet per flag (``sheet_<flag>.png``: the images it fired on, worst
first) and one of the near misses (``near_<flag>.png``), to look at.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from pathlib import Path

import numpy as np
import polars as pl
from PIL import Image, ImageDraw, ImageFilter

import recipe_audit
from recipe_audit import examples
from recipe_audit.analysis.outliers import FLAGS, find_outliers


def _save(im: Image.Image, path: Path, quality: int = 90) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=quality)
    path.write_bytes(buf.getvalue())


def _crop(rng: np.random.Generator, arr: np.ndarray, lo: float = 0.3, hi: float = 0.9) -> Image.Image:
    box = examples._crop(rng, arr, lo, hi)
    return examples._to_image(arr, box, int(rng.integers(200, 801)), gray=False)


def build(root: Path, per_source: int, seed: int = 11) -> Path:
    rng = np.random.default_rng(seed)
    sources = examples.photo_sources()
    for name, arr in sources:
        for i in range(per_source):
            _save(_crop(rng, arr), root / "ordinary" / name / f"{name}_{i:03d}.jpg", int(rng.integers(75, 96)))
    by_name = dict(sources)
    # Traps: ordinary pictures that fool naive measures.
    for name, y1 in (("rocket", 0.35), ("china", 0.2)):
        arr = by_name[name]
        for i in range(6):
            h, w = arr.shape[:2]
            x0 = int(rng.integers(0, w // 3))
            strip = arr[: int(h * y1), x0 : x0 + w // 2]
            _save(Image.fromarray(strip).convert("RGB"), root / "traps" / "sky" / f"{name}_sky_{i}.jpg")
    for name in ("retina", "hubble_deep_field", "motorcycle", "astronaut", "china", "flower"):
        _save(Image.fromarray(by_name[name]).convert("RGB"), root / "traps" / "large" / f"{name}_full.jpg", 92)
    # Planted faults.
    names = [n for n, _ in sources]
    pick = lambda: by_name[names[int(rng.integers(len(names)))]]  # noqa: E731
    for i in range(10):
        im = _crop(rng, pick())
        radius = max(im.size) * rng.uniform(0.02, 0.04)
        _save(im.filter(ImageFilter.GaussianBlur(radius)), root / "planted" / "blurred" / f"blurred_{i}.jpg")
        _save(Image.eval(_crop(rng, pick()), lambda v: int(v * 0.12)), root / "planted" / "dark" / f"dark_{i}.jpg")
        _save(
            Image.eval(_crop(rng, pick()), lambda v: 255 - int((255 - v) * 0.1)),
            root / "planted" / "bright" / f"bright_{i}.jpg",
        )
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        _save(
            Image.new("RGB", (int(rng.integers(200, 600)), int(rng.integers(200, 600))), color),
            root / "planted" / "blank" / f"blank_{i}.jpg",
            75,
        )
        tiny = _crop(rng, pick())
        tiny.thumbnail((int(rng.integers(24, 41)),) * 2)
        _save(tiny, root / "planted" / "tiny" / f"tiny_{i}.jpg")
        arr = pick()
        h, w = arr.shape[:2]
        strip = Image.fromarray(arr[h // 2 : h // 2 + max(8, w // 7), :]).convert("RGB")
        _save(strip, root / "planted" / "strip" / f"strip_{i}.jpg")
        _save(_crop(rng, pick()).convert("L"), root / "planted" / "gray" / f"gray_{i}.jpg")
    return root


def build_icons(root: Path, n: int = 40, seed: int = 5) -> Path:
    """Small drawn glyphs: flat colors, sharp edges, 24-48 px; their own dataset."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        side = int(rng.integers(24, 49))
        light = bool(i % 2)  # dark glyph on a light ground, or light on dark: contrast, as icons have
        bg = (
            (255, 255, 255)
            if i % 4 == 1
            else tuple(int(c) for c in rng.integers(*((170, 256) if light else (0, 80)), 3))
        )
        fg = tuple(int(c) for c in rng.integers(*((0, 80) if light else (170, 256)), 3))
        im = Image.new("RGB", (side, side), bg)
        draw = ImageDraw.Draw(im)
        if i % 3 == 0:
            draw.ellipse([side * 0.2, side * 0.2, side * 0.8, side * 0.8], fill=fg)
        elif i % 3 == 1:
            draw.rectangle([side * 0.25, side * 0.15, side * 0.75, side * 0.85], outline=fg, width=max(2, side // 10))
        else:
            draw.text((side * 0.3, side * 0.25), "AB"[i % 2], fill=fg, font_size=side * 0.6)
        im.save(root / f"icon_{i:03d}.png")
    return root


def _sheet(paths: list[str], out: Path, label: list[str]) -> None:
    tiles = []
    for p, text in zip(paths, label):
        with Image.open(p) as im:
            im = im.convert("RGB")
            im.thumbnail((160, 160))
        tile = Image.new("RGB", (170, 185), "white")
        tile.paste(im, (5, 5))
        ImageDraw.Draw(tile).text((5, 168), text[:28], fill="black")
        tiles.append(tile)
    if not tiles:
        return
    cols = 8
    sheet = Image.new("RGB", (cols * 170, -(-len(tiles) // cols) * 185), "white")
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % cols) * 170, (i // cols) * 185))
    sheet.save(out)


def review(root: Path, out: Path) -> pl.DataFrame:
    files = recipe_audit.scan(root, progress=False).with_columns(
        group=pl.col("path").str.strip_prefix(str(root) + "/").str.extract(r"^([^/]+/[^/]+)/")
    )
    odd = find_outliers(files.drop("label"), by_class=False).join(files.select("path", "group"), on="path")
    table = odd.group_by("group").agg(pl.len().alias("n"), *[pl.col(f).sum() for f in FLAGS]).sort("group")
    for flag in FLAGS:
        hits = odd.filter(pl.col(flag)).head(48)
        _sheet(hits["path"].to_list(), out / f"sheet_{flag}.png", hits["group"].to_list())
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?")
    parser.add_argument("--per-source", type=int, default=20)
    args = parser.parse_args(argv)
    base = Path(args.directory or tempfile.mkdtemp(prefix="outlier_review_"))
    root = build(base / "data", args.per_source)
    with pl.Config(tbl_rows=60, tbl_cols=12, tbl_width_chars=200):
        print(review(root, base))
        icons = build_icons(Path(tempfile.mkdtemp(prefix="icons_", dir=base)))
        print("icons judged against each other:")
        print(find_outliers(recipe_audit.scan(icons, progress=False)).select(pl.col(list(FLAGS)).sum()))
    print(f"contact sheets in {base}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
