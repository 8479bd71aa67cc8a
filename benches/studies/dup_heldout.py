"""Near-duplicate search judged held out, per edit (issue 16): recall per transform and strict
pairwise precision on each half of `dup_corpus`, for the default rule and its options.

    python -m benches.studies.dup_heldout [--seed 11] [--originals 4] [--dir /tmp/dup_heldout]

``--kinds photo`` searches the photographs alone; the default searches photographs and art together
(art has flat gradients and solid colours: look-alikes by nature).

Rules: ``find_duplicates(files)`` (the default), ``crops=False`` and ``flips=True``. A copy is
found when it lands in its original's group; precision counts every pair inside every group (a
group of k files holds k(k-1)/2 pairs), true when `dup_corpus.true_pair` says so. Pairs across the
halves are false and counted apart. Prints one table per rule: rows tuning / held-out, columns
each transform alone, the two-transform copies, the 10-20% crops, pairwise precision.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
from pathlib import Path

import polars as pl

import recipe_audit

import benches.studies.sources as sources
from benches.studies.dup_corpus import GOAL_TRANSFORMS, build, true_pair

RULES = {"default": {}, "crops=False": {"crops": False}, "crops=False, flips=True": {"crops": False, "flips": True}}


def judge(table: pl.DataFrame, groups: pl.DataFrame) -> dict[str, dict[str, str]]:
    is_true = true_pair(table)
    group_of = dict(groups.select("path", "group").iter_rows())
    half_of = dict(table.select("path", "half").iter_rows())
    originals = table.filter(pl.col("transform") == "original").select("original", "path")
    original_path = dict(originals.iter_rows())
    out: dict[str, dict[str, str]] = {}
    for half in ("tuning", "heldout"):
        part = table.filter((pl.col("half") == half) & (pl.col("transform") != "original"))
        row: dict[str, str] = {}
        found = part.with_columns(
            found=pl.struct("original", "path").map_elements(
                lambda r: (
                    group_of.get(r["path"]) is not None
                    and group_of.get(r["path"]) == group_of.get(original_path.get(r["original"]))
                ),
                return_dtype=pl.Boolean,
            ),
            two=pl.col("transform").str.contains(r"\+"),
        )
        for t in GOAL_TRANSFORMS:
            g = found.filter(pl.col("transform") == t)
            row[t] = f"{g['found'].mean():.2f}"
        row["two edits"] = f"{found.filter('two')['found'].mean():.2f}"
        row["crop 10-20%"] = f"{found.filter(pl.col('transform') == 'crop_10_20')['found'].mean():.2f}"
        true = false = 0
        for _, members in groups.filter(
            pl.col("path").is_in(table.filter(pl.col("half") == half)["path"].implode())
        ).group_by("group"):
            for a, b in itertools.combinations(members["path"].to_list(), 2):
                if half_of.get(a) == half_of.get(b) == half:
                    true += is_true(a, b)
                    false += not is_true(a, b)
        row["pairs"] = f"{true + false}"
        row["precision"] = f"{true / (true + false):.3f}" if true + false else "n/a"
        out[half] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--originals", type=int, default=4, help="originals per source")
    ap.add_argument("--dir", type=Path, default=Path("/tmp/dup_heldout"))
    ap.add_argument("--kinds", default="photo,art", help="source kinds searched together (photo, art)")
    ap.add_argument("--reuse", action="store_true", help="reuse the corpus already in --dir")
    ap.add_argument("--sources", type=Path, default=None, help="draw from the pictures listed in this file (`sources`)")
    args = ap.parse_args()
    sources.use(args.sources)
    if not args.reuse:
        shutil.rmtree(args.dir, ignore_errors=True)
        build(args.dir / "corpus", seed=args.seed, originals_per_source=args.originals).write_parquet(
            args.dir / "table.parquet"
        )
    table = pl.read_parquet(args.dir / "table.parquet").filter(pl.col("source_kind").is_in(args.kinds.split(",")))
    files = recipe_audit.scan(table["path"].to_list(), progress=False)
    print(
        f"seed {args.seed}: {table.height} files, {table['original'].n_unique()} originals, "
        f"{table['source'].n_unique()} sources\n"
    )
    for options in RULES.values():
        groups = recipe_audit.find_duplicates(files, **options)
        results = judge(table, groups)
        largest = groups.group_by("group").len()["len"].max() if groups.height else 0
        columns = list(next(iter(results.values())))
        print(
            f"### `find_duplicates(files{', ' if options else ''}{', '.join(f'{k}={v}' for k, v in options.items())})`\n"
        )
        print("| half | " + " | ".join(columns) + " |")
        print("|---|" + "---|" * len(columns))
        for half, row in results.items():
            print(f"| {half} | " + " | ".join(row[c] for c in columns) + " |")
        print(f"\nlargest group: {largest} files\n")


if __name__ == "__main__":
    main()
