"""Calibration of `property_shift` and `property_label_association` on real pictures.

    python -m benches.studies.property_bias [--corpus DIR] [--tries 100]

The scan frame of a corpus of real photographs (default: `outlier_corpus` built at seed 3, its
ordinary photographs only) is split at random into train/val/test (60/20/20) and labelled at random
with 5 classes, `--tries` times: every verdict there is false. Then, on the same random splits and
labels, planted biases: test darker by 15% (each image's luma x0.85: mean and std scale), val all
PNG, one class darker by 15%, one class made all PNG, one class of pictures half the size. Prints
the share of tries with any false verdict, and how often each planted bias is found.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import polars as pl

import recipe_audit
from recipe_audit.analysis.properties import property_label_association, property_shift

from benches.studies.outlier_corpus import build


def _darker(files: pl.DataFrame, where: pl.Expr, factor: float = 0.85) -> pl.DataFrame:
    return files.with_columns(
        pl.when(where).then(pl.col(c) * factor).otherwise(pl.col(c)).alias(c) for c in ("mean", "std")
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=Path("/tmp/property_bias"))
    ap.add_argument("--tries", type=int, default=100)
    args = ap.parse_args()
    if not (args.corpus / "table.parquet").exists():
        table = build(args.corpus, seed=3, per_source=12)
        table.write_parquet(args.corpus / "table.parquet")
    table = pl.read_parquet(args.corpus / "table.parquet")
    photos = table.filter((pl.col("kind") == "ordinary") & (pl.col("source_kind") == "photo"))
    files = recipe_audit.scan(photos["path"].to_list(), progress=False)
    print(f"{files.height} real photographs from {photos['source'].n_unique()} sources, {args.tries} tries")
    rng = np.random.default_rng(0)
    false_shift = false_assoc = 0
    found = {k: 0 for k in ("test darker 15%", "val all PNG", "class darker 15%", "class all PNG", "class half size")}
    for _ in range(args.tries):
        f = files.with_columns(
            split=pl.Series(rng.choice(["train", "val", "test"], files.height, p=[0.6, 0.2, 0.2])),
            label=pl.Series(rng.choice([f"c{i}" for i in range(5)], files.height)),
        )
        false_shift += property_shift(f)["shifted"].any()
        false_assoc += property_label_association(f)["associated"].any()
        hit = lambda frame, prop: bool(frame.filter(pl.col("property") == prop)[frame.columns[-2]].any())  # noqa: E731
        found["test darker 15%"] += hit(property_shift(_darker(f, pl.col("split") == "test")), "brightness")
        found["val all PNG"] += hit(
            property_shift(
                f.with_columns(format=pl.when(pl.col("split") == "val").then(pl.lit("png")).otherwise("format"))
            ),
            "format",
        )
        found["class darker 15%"] += hit(property_label_association(_darker(f, pl.col("label") == "c0")), "brightness")
        found["class all PNG"] += hit(
            property_label_association(
                f.with_columns(format=pl.when(pl.col("label") == "c0").then(pl.lit("png")).otherwise("format"))
            ),
            "format",
        )
        half = pl.col("label") == "c0"
        small = f.with_columns(
            width=pl.when(half).then(pl.col("width") // 2).otherwise("width"),
            height=pl.when(half).then(pl.col("height") // 2).otherwise("height"),
        )
        found["class half size"] += hit(property_label_association(small), "width")
    print(f"| random splits with any `shifted` | {false_shift}/{args.tries} |")
    print(f"| random labels with any `associated` | {false_assoc}/{args.tries} |")
    for name, count in found.items():
        print(f"| planted: {name} found | {count}/{args.tries} |")


if __name__ == "__main__":
    main()
