"""cleanvision on the same held-out corpus as `outlier_heldout.py`, judged the same way.

    python -m benches.studies.outlier_heldout --seed 7 --dir /tmp/oh7            # writes the corpus and table
    python -m venv /tmp/cv && /tmp/cv/bin/pip install cleanvision polars
    /tmp/cv/bin/python -m benches.studies.outlier_cleanvision /tmp/oh7

cleanvision is run on each half's photographs (ordinary and planted together, as one dataset),
with its default issue types. Its names map to ours: dark, light -> bright, blurry,
low_information, odd_size, odd_aspect, grayscale. Prints the same two tables.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
from cleanvision import Imagelab

NAMES = {
    "dark": "dark",
    "light": "bright",
    "blurry": "blurry",
    "low_information": "low_information",
    "odd_size": "odd_size",
    "odd_aspect_ratio": "odd_aspect",
    "grayscale": "grayscale",
}


def main() -> None:
    root = Path(sys.argv[1])
    table = pl.read_parquet(root / "table.parquet")
    photos = table.filter(pl.col("source_kind").is_in(["photo", "text"]) | pl.col("kind").str.starts_with("planted:"))
    frames = []
    for half in ("tuning", "heldout"):
        part = photos.filter(pl.col("half") == half)
        lab = Imagelab(filepaths=part["path"].to_list())
        lab.find_issues()
        issues = lab.issues.reset_index(names="path")
        issues = pl.DataFrame({c: issues[c].to_numpy() for c in issues.columns if c == "path" or c.startswith("is_")})
        cols = {f"is_{k}_issue": v for k, v in NAMES.items() if f"is_{k}_issue" in issues.columns}
        frames.append(issues.select("path", *[pl.col(c).alias(v) for c, v in cols.items()]).join(part, on="path"))
    judged = pl.concat(frames)
    flags = [v for v in NAMES.values() if v in judged.columns]
    gray_sources = set(table.filter(pl.col("kind") == "ordinary_gray")["source"])
    ordinary = judged.filter(pl.col("kind").str.starts_with("ordinary")).with_columns(
        any=pl.any_horizontal(
            [pl.col(f) & ~((f == "grayscale") & pl.col("source").is_in(list(gray_sources))) for f in flags]
        )
    )
    print("| half | photographs | any flag | " + " | ".join(flags) + " |")
    print("|---|---|---|" + "---|" * len(flags))
    for half in ("tuning", "heldout"):
        g = ordinary.filter(pl.col("half") == half)
        print(
            f"| {half} | {g.height} | {g['any'].mean():.1%} | " + " | ".join(str(int(g[f].sum())) for f in flags) + " |"
        )
    planted = judged.filter(pl.col("kind").str.starts_with("planted:") & (pl.col("kind") != "planted:upscaled"))
    kinds = sorted(planted["kind"].unique())
    print("\n| planted | " + " | ".join(k.split(":")[1] for k in kinds) + " |")
    print("|---|" + "---|" * len(kinds))
    for half in ("tuning", "heldout"):
        cells = []
        for k in kinds:
            g = planted.filter((pl.col("half") == half) & (pl.col("kind") == k))
            flag = k.split(":")[1]
            cells.append(f"{int(g[flag].sum())}/{g.height}" if flag in g.columns else "n/a")
        print(f"| {half} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
