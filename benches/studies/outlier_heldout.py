"""The outlier flags measured held out: false flags on ordinary pictures and recall of planted faults,
on the tuning half and on the held-out half of `outlier_corpus` (split by source photograph).

    python -m benches.studies.outlier_heldout [--seed 7] [--per-source 10] [--dir /tmp/outlier_heldout]

The defaults of `OutlierThresholds` were chosen on the tuning half of seed 1; run with a fresh seed
to see both halves on crops never looked at. Prints markdown tables (BENCHMARKS.md "Outlier flags,
held out"):

1. per half and source kind (photo, art, paper, rendered text), the share of ordinary pictures with
   any flag (and with the crops that are blank frames pixel for pixel, `BLANK_CROP_STD`, counted
   apart) and per flag (``grayscale`` is not counted on gray sources: they are gray), then the
   photographs by how they were made (plain crops, flattest crops, fog, night, gray, text pages),
   and every flagged photograph with its values;
2. per half, recall of each planted fault by its own flag;
3. on the held-out half, recall of ``blurry`` against the blur radius (share of the long side);
4. the time `find_outliers` takes on a million rows (the scan columns of this corpus, repeated).
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import polars as pl

import recipe_audit
from recipe_audit.analysis.outliers import FLAGS, find_outliers

import benches.studies.sources as sources
from benches.studies.outlier_corpus import build, build_blur_curve


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


BLANK_CROP_STD = 1.0
"""Luma std under which an ordinary crop is a blank frame pixel for pixel (the flattest crop of a
black sky: std 0.0-0.7), as the planted ``low_information`` frames are (0.0-0.7): no rule can
tell the two apart, so their flags are counted apart too."""


def ordinary_table(o: pl.DataFrame) -> str:
    gray_sources = {p.name for p in sources.library() if p.gray}
    o = o.with_columns(grayscale=pl.col("grayscale") & ~pl.col("source").is_in(list(gray_sources)))
    o = o.with_columns(any=pl.any_horizontal(FLAGS), blank=pl.col("std") < BLANK_CROP_STD)
    lines = [
        "| half | source kind | pictures | any flag | blank crops, flagged | any flag, blank crops apart | "
        + " | ".join(FLAGS)
        + " |",
        "|---|---|---|---|---|---|" + "---|" * len(FLAGS),
    ]
    for (half, kind), g in sorted(o.group_by("half", "source_kind"), key=lambda t: (t[0][0] != "tuning", t[0][1])):
        cells = " | ".join(f"{int(g[f].sum())}" for f in FLAGS)
        blank, rest = g.filter("blank"), g.filter(~pl.col("blank"))
        lines.append(
            f"| {half} | {kind} | {g.height} | **{_pct(g['any'].mean())}** | {int(blank['any'].sum())}/{blank.height} "
            f"| {_pct(rest['any'].mean())} | {cells} |"
        )
    return "\n".join(lines)


def photo_kinds_table(o: pl.DataFrame) -> str:
    """Ordinary photographs by how they were made: plain crops, flattest crops, fog, night, gray, text."""
    gray_sources = [p.name for p in sources.library() if p.gray]
    o = o.filter(pl.col("source_kind").is_in(["photo", "text"])).with_columns(
        any=pl.any_horizontal([pl.col(f) & ~((f == "grayscale") & pl.col("source").is_in(gray_sources)) for f in FLAGS])
    )
    kinds = sorted(o["kind"].unique())
    lines = ["| half | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
    for half in ("tuning", "heldout"):
        cells = []
        for k in kinds:
            g = o.filter((pl.col("half") == half) & (pl.col("kind") == k))
            cells.append(f"{int(g['any'].sum())}/{g.height}")
        lines.append(f"| {half} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def planted_table(p: pl.DataFrame) -> str:
    kinds = sorted(p["kind"].unique())
    lines = ["| planted | " + " | ".join(k.split(":")[1] for k in kinds) + " |", "|---|" + "---|" * len(kinds)]
    for half in ("tuning", "heldout"):
        cells = []
        for k in kinds:
            g = p.filter((pl.col("half") == half) & (pl.col("kind") == k))
            flag = "blurry" if k == "planted:upscaled" else k.split(":")[1]
            cells.append(f"{int(g[flag].sum())}/{g.height}")
        lines.append(f"| {half} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--per-source", type=int, default=10)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/outlier_heldout"))
    ap.add_argument("--sources", type=Path, default=None, help="draw from the pictures listed in this file (`sources`)")
    args = ap.parse_args()
    sources.use(args.sources)
    shutil.rmtree(args.dir, ignore_errors=True)
    table = build(args.dir / "corpus", seed=args.seed, per_source=args.per_source)
    table.write_parquet(args.dir / "table.parquet")
    files = recipe_audit.scan(args.dir / "corpus", progress=False)
    # Each half and kind of source is judged as a dataset of its own, as a user's folder of photos
    # (with the planted faults among them), of drawn art, or of paper scans would be: the relative
    # flags (size, aspect, grayscale) compare a picture with its own dataset.
    table = table.with_columns(
        dataset=pl.col("half")
        + "/"
        + pl.when(pl.col("source_kind").is_in(["art", "paper"])).then("source_kind").otherwise(pl.lit("photo"))
    )
    with_files = files.join(table.select("path", "dataset"), on="path")
    odd = pl.concat([find_outliers(g.drop("dataset")) for _, g in with_files.group_by("dataset")]).join(
        table, on="path"
    )
    print(f"seed {args.seed}: {table.height} pictures from {table['source'].n_unique()} sources\n")
    print(ordinary_table(odd.filter(pl.col("kind").str.starts_with("ordinary"))), "\n")
    print(photo_kinds_table(odd.filter(pl.col("kind").str.starts_with("ordinary"))), "\n")
    print(planted_table(odd.filter(pl.col("kind").str.starts_with("planted:"))), "\n")
    false = odd.filter(
        pl.col("kind").str.starts_with("ordinary")
        & pl.col("source_kind").is_in(["photo", "text"])
        & (pl.col("flags").list.len() > 0)
        & ~((pl.col("flags") == ["grayscale"]) & pl.col("source").is_in([p.name for p in sources.library() if p.gray]))
    )
    print("Flagged ordinary photographs:")
    for r in false.sort("half", "source").iter_rows(named=True):
        print(
            f"- {r['half']} {r['source']} ({r['kind']}): {r['flags']} p01 {r['luma_p01']} p99 {r['luma_p99']} "
            f"sharpness {r['sharpness']} std {r['std']:.1f} colorfulness {r['colorfulness']}"
        )
    print()

    curve = build_blur_curve(args.dir / "blur", seed=args.seed + 1)
    # Judged inside the corpus, as a user's folder would be (the flags are absolute, the dataset
    # only matters for relative flags).
    blur_files = recipe_audit.scan([*table["path"], *curve["path"]], progress=False)
    blurred = find_outliers(blur_files).join(curve, on="path")
    rows = blurred.group_by("radius").agg(pl.len(), pl.col("blurry").mean()).sort("radius")
    print("| blur radius (share of the long side) | " + " | ".join(f"{r:.2%}" for r in rows["radius"]) + " |")
    print("|---|" + "---|" * rows.height)
    print("| held-out recall of `blurry` | " + " | ".join(f"{v:.2f}" for v in rows["blurry"]) + " |\n")

    million = pl.concat([files] * (1_000_000 // files.height + 1)).head(1_000_000)
    start = time.perf_counter()
    find_outliers(million)
    print(f"find_outliers on 1,000,000 rows: {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
