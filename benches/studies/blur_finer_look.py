"""How `blurry` rules compare when `sharpness` is also measured one or two decode scales finer, on
the tuning halves of `outlier_corpus` corpora (the study that chose ``sharpness_fine``).

    python -m benches.studies.blur_finer_look /tmp/oh1 /tmp/oh29 [--half tuning]

Each folder is one made by ``benches.studies.outlier_heldout --seed N --dir DIR`` (its ``corpus``
and ``table.parquet``). Every corpus is scanned at ``min_decode_side`` 64 (the scan's), 128 and 256,
and blurred crops of the half's photographs at seven radii are made (seed 5) and scanned the same
way; the scans are cached as ``finer_look.parquet`` in each folder. Prints, per rule, the false
``blurry`` flags on the half's ordinary photographs (all kinds, and plain crops), the planted blurs
found, and recall by blur radius (BENCHMARKS.md, "A second look one decode scale finer").
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import polars as pl

import recipe_audit

from benches.studies.outlier_corpus import build_blur_curve

SCALES = {"sharpness": 64, "sharp128": 128, "sharp256": 256}


def _scanned(folder: Path, table: pl.DataFrame) -> pl.DataFrame:
    frame = table
    for column, side in SCALES.items():
        scan = recipe_audit.scan(folder, progress=False, min_decode_side=side)
        keep = ["path", pl.col("sharpness").alias(column)]
        if side == 64:
            keep += ["width", "height", "std", "sharpness_fine"]
        frame = frame.join(scan.select(keep), on="path")
    return frame


def corpus(folder: Path) -> pl.DataFrame:
    cache = folder / "finer_look.parquet"
    if not cache.exists():
        _scanned(folder / "corpus", pl.read_parquet(folder / "table.parquet")).write_parquet(cache)
    return pl.read_parquet(cache)


def curve(folder: Path, half: str) -> pl.DataFrame:
    cache = folder / f"finer_look_curve_{half}.parquet"
    if not cache.exists():
        table = build_blur_curve(folder / f"finer_look_{half}", seed=5, half=half)
        _scanned(folder / f"finer_look_{half}", table).write_parquet(cache)
    return pl.read_parquet(cache)


Rule = Callable[[], pl.Expr]


def _s(column: str) -> pl.Expr:
    return pl.col(column).fill_null(1.0)  # null: too few strong edges, never blurry


RULES: dict[str, Rule] = {
    "sharpness <= 0.02 (the rule before)": lambda: _s("sharpness") <= 0.02,
    "sharpness <= 0.05": lambda: _s("sharpness") <= 0.05,
    "at 128 only, <= 0.005": lambda: _s("sharp128") <= 0.005,
    "at 256 only, <= 0.01": lambda: _s("sharp256") <= 0.01,
    "<= 0.02, or at 128 <= 0.005 where <= 0.15 (chosen)": lambda: (
        (_s("sharpness") <= 0.02) | ((_s("sharpness") <= 0.15) & (_s("sharp128") <= 0.005))
    ),
    "<= 0.02, or at 128 <= 0.01 where <= 0.15": lambda: (
        (_s("sharpness") <= 0.02) | ((_s("sharpness") <= 0.15) & (_s("sharp128") <= 0.01))
    ),
    "<= 0.02, or at 128 <= 0.005 where <= 0.3": lambda: (
        (_s("sharpness") <= 0.02) | ((_s("sharpness") <= 0.3) & (_s("sharp128") <= 0.005))
    ),
    "<= 0.02, or at 128 <= 0.005 where <= 0.5": lambda: (
        (_s("sharpness") <= 0.02) | ((_s("sharpness") <= 0.5) & (_s("sharp128") <= 0.005))
    ),
    "the scan's own: <= 0.02, or sharpness_fine <= 0.005": lambda: (
        (_s("sharpness") <= 0.02) | (_s("sharpness_fine") <= 0.005)
    ),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", type=Path, nargs="+")
    ap.add_argument("--half", default="tuning", choices=["tuning", "heldout"])
    args = ap.parse_args()
    judged = pl.min_horizontal("width", "height") >= 64
    frames = pl.concat([corpus(f) for f in args.folders], how="diagonal_relaxed")
    frames = frames.filter((pl.col("half") == args.half) & judged)
    ordinary = frames.filter(
        pl.col("kind").str.starts_with("ordinary") & pl.col("source_kind").is_in(["photo", "text"])
    )
    planted = frames.filter(pl.col("kind") == "planted:blurry")
    blurred = curve(args.folders[-1], args.half).filter(judged)
    radii = sorted(blurred["radius"].unique())
    print(f"{args.half} halves: {ordinary.height} ordinary photographs, {planted.height} planted blurs")
    print("| rule | false blurry | plain crops | planted | " + " | ".join(f"{100 * r:g}%" for r in radii) + " |")
    print("|---|---|---|---|" + "---|" * len(radii))
    for name, rule in RULES.items():
        false = ordinary.select(rule().sum()).item()
        plain = ordinary.filter(pl.col("kind") == "ordinary")
        recall = blurred.group_by("radius").agg(rule().mean().alias("found")).sort("radius")["found"]
        print(
            f"| {name} | {false}/{ordinary.height} ({100 * false / ordinary.height:.1f}%) "
            f"| {plain.select(rule().sum()).item()}/{plain.height} | {planted.select(rule().sum()).item()}/{planted.height} | "
            + " | ".join(f"{r:.2f}" for r in recall)
            + " |"
        )
    for gate in (0.1, 0.15, 0.2, 0.3):
        share = ordinary.select((_s("sharpness") <= gate).mean()).item()
        print(f"second look needed below {gate}: {100 * share:.1f}% of ordinary photographs")


if __name__ == "__main__":
    main()
