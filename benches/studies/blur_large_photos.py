"""`blurry` on large photographs (shorter side >= 1024 px), which the held-out crops (200-800 px)
never include: every such colour photograph of `photo_library`, saved whole as JPEG q90, and the
same blurred by a Gaussian of 0.5%, 0.75% and 1% of its long side (JPEG q70-94, seed 61).

    python -m benches.studies.blur_large_photos [--dir /tmp/blur_large]

Prints the flags on the originals and the recall of `blurry` per radius. Nothing is fitted here:
every threshold was chosen on crops of 200-800 px. Run it with ``PYTHONPATH`` pointing at another
build to compare (BENCHMARKS.md, "The finer look from the decode itself").
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import polars as pl
from PIL import Image, ImageFilter

import recipe_audit
from recipe_audit.analysis.outliers import FLAGS, find_outliers
from recipe_audit.examples import photo_library

RADII = (0.005, 0.0075, 0.01)


def build(folder: Path) -> pl.DataFrame:
    rng = np.random.default_rng(61)
    rows = []
    for photo in photo_library():
        if photo.kind != "photo" or min(photo.array.shape[:2]) < 1024:
            continue
        im = Image.fromarray(photo.array).convert("RGB")
        path = folder / f"{photo.name}.jpg"
        im.save(path, quality=90)
        rows.append((str(path), photo.name, 0.0))
        for radius in RADII:
            blurred = folder / f"{photo.name}_blur{radius}.jpg"
            im.filter(ImageFilter.GaussianBlur(max(im.size) * radius)).save(blurred, quality=int(rng.integers(70, 95)))
            rows.append((str(blurred), photo.name, radius))
    return pl.DataFrame(rows, schema=["path", "source", "radius"], orient="row")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/blur_large"))
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    table = build(args.dir)
    flags = find_outliers(recipe_audit.scan(table["path"].to_list(), progress=False)).join(table, on="path")
    originals = flags.filter(pl.col("radius") == 0.0)
    print(f"{originals.height} photographs, shorter side >= 1024 px")
    print("flags on the originals: " + ", ".join(f"{f} {int(originals[f].sum())}" for f in FLAGS))
    print("| blur radius (share of the long side) | " + " | ".join(f"{r:.2%}" for r in RADII) + " |")
    print("|---|" + "---|" * len(RADII))
    found = [flags.filter(pl.col("radius") == r)["blurry"].mean() for r in RADII]
    print("| recall of `blurry` | " + " | ".join(f"{v:.2f}" for v in found) + " |")


if __name__ == "__main__":
    main()
