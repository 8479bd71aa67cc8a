"""Choosing `thumbmatch.MIN_SIGN_AGREEMENT` with the scan's own ``thumb_signs`` (issue 16): on the
tuning seeds only, how many links between different photographs are left, and recall per edit and
precision on each seed's tuning half, per threshold.

    python -m benches.studies.dup_sign_threshold /tmp/dh1 /tmp/dh3 /tmp/dh4 /tmp/dh5 /tmp/dh13 /tmp/dh17

Each dir is a corpus written by ``benches.studies.dup_heldout`` (``corpus/``, ``table.parquet``);
photographs only. The study that found the test (``benches.studies.dup_confirm_study``) made its
signatures in Python from the files; this one reads the column the scan stores, which differs a
little (the scan's 64x64 square comes from its own decode), so the threshold is checked again here
before any held-out run. Thresholds of None disable the check (the rule before).
"""

from __future__ import annotations

import argparse

import numpy as np
import polars as pl

import recipe_audit
from recipe_audit.dedup import thumbmatch
from recipe_audit.dedup.rule import window_rule_rows

from benches.studies.dup_corpus import GOAL_TRANSFORMS
from benches.studies.dup_heldout import judge

THRESHOLDS = (None, 0.60, 0.62, 0.64, 0.66, 0.68, 0.70)


def unrelated_links(files: pl.DataFrame) -> int:
    thumbs, shape, signs = thumbmatch.thumbnails(files), thumbmatch.shapes(files), thumbmatch.sign_maps(files)
    pairs = thumbmatch.matched_pairs(thumbs, shape, signs=signs)
    source = files["source"].to_numpy()
    return int((source[pairs["a"].to_numpy()] != source[pairs["b"].to_numpy()]).sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+")
    args = ap.parse_args()
    tables = {d: pl.read_parquet(f"{d}/table.parquet").filter(pl.col("source_kind") == "photo") for d in args.dirs}
    table = pl.concat(tables.values())
    scanned = recipe_audit.scan(table["path"].to_list(), progress=False)
    files = window_rule_rows(scanned).join(table.select("path", "source"), on="path")
    per_source = files.group_by("source").len()["len"].to_numpy().astype(np.int64)
    total = files.height * (files.height - 1) // 2 - int((per_source * (per_source - 1) // 2).sum())
    print(f"{files.height} files, {total:,} pairs of different sources (tuning seeds, tuning and held-out halves)\n")
    columns = [*GOAL_TRANSFORMS, "two edits", "crop 10-20%"]
    print(
        "| MIN_SIGN_AGREEMENT | unrelated links | P | lowest recall, tuning halves | "
        + " | ".join(columns)
        + " | precision (worst seed) |"
    )
    print("|---|---|---|---|" + "---|" * len(columns) + "---|")
    original = thumbmatch.MIN_SIGN_AGREEMENT
    for threshold in THRESHOLDS:
        thumbmatch.MIN_SIGN_AGREEMENT = -1.0 if threshold is None else threshold
        linked = unrelated_links(files)
        recalls: dict[str, list[float]] = {c: [] for c in columns}
        precisions = []
        for t in tables.values():
            part = scanned.filter(pl.col("path").is_in(t["path"].implode()))
            row = judge(t, recipe_audit.find_duplicates(part))["tuning"]
            for c in columns:
                recalls[c].append(float(row[c]))
            precisions.append(float(row["precision"]))
        weights = [t.filter(pl.col("half") == "tuning").height for t in tables.values()]
        mean = {c: float(np.average(v, weights=weights)) for c, v in recalls.items()}
        print(
            f"| {threshold} | {linked} | {linked / total:.2e} | {min(mean.values()):.3f} | "
            + " | ".join(f"{mean[c]:.3f}" for c in columns)
            + f" | {min(precisions):.3f} |"
        )
    thumbmatch.MIN_SIGN_AGREEMENT = original


if __name__ == "__main__":
    main()
