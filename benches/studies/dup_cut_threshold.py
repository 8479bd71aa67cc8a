"""How the groups' cut (`recipe_audit.dedup.cuts.MAX_CONDUCTANCE`) trades precision for recall,
on `dup_corpus` folders (the study that chose it on the tuning seeds 1, 3, 4, 5, 13 and 17).

    python -m benches.studies.dup_cut_threshold /tmp/dh1 /tmp/dh3 ... [--values 0,0.05,0.1,0.2,0.3]

Each folder is one made by ``benches.studies.dup_heldout --seed N --dir DIR`` (its ``table.parquet``
and files). The photographs are scanned, their links listed once (`duplicate_pairs`), and grouped
at each value (0: connected components, the grouping before the cut). Prints per folder, half and
value the pairwise precision (strict, as `dup_heldout`) and the pairs in groups, the share of copies in
their original's group (all edits), and the 10-20% crops found (BENCHMARKS.md, "Near duplicates:
groups cut where they hang on a few links").
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import polars as pl

import recipe_audit
import recipe_audit._core as _core
from recipe_audit.dedup import cuts

from benches.studies.dup_heldout import judge


def grouped(files: pl.DataFrame, pairs: pl.DataFrame, value: float) -> pl.DataFrame:
    """A groups frame (``path``, ``group``) of the linked files at `value` (0: components)."""
    paths = files["path"]
    position = {p: i for i, p in enumerate(paths)}
    a = np.array([position[p] for p in pairs["path_a"]], dtype=np.int64)
    b = np.array([position[p] for p in pairs["path_b"]], dtype=np.int64)
    if value > 0:
        saved, cuts.MAX_CONDUCTANCE = cuts.MAX_CONDUCTANCE, value
        try:
            keep = cuts.kept_links(len(paths), a, b)
        finally:
            cuts.MAX_CONDUCTANCE = saved
        a, b = a[keep], b[keep]
    roots = _core.hamming_components(len(paths), a.astype(np.uint32), b.astype(np.uint32))
    frame = pl.DataFrame({"path": paths, "group": roots.astype(np.int64)})
    return frame.filter(pl.len().over("group") > 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", type=Path, nargs="+")
    ap.add_argument("--values", default="0,0.05,0.1,0.2,0.3")
    args = ap.parse_args()
    values = [float(v) for v in args.values.split(",")]
    print("| folder | half | value | precision | pairs | copies found | crop 10-20% |\n|---|---|---|---|---|---|---|")
    for folder in args.folders:
        table = pl.read_parquet(folder / "table.parquet").filter(pl.col("source_kind") == "photo")
        files = recipe_audit.scan(table["path"].to_list(), progress=False).filter(pl.col("thumb").is_not_null())
        pairs = recipe_audit.duplicate_pairs(files)
        for value in values:
            groups = grouped(files, pairs, value)
            for half, row in judge(table, groups).items():
                found = np.mean([float(v) for k, v in row.items() if k not in ("pairs", "precision", "crop 10-20%")])
                print(
                    f"| {folder.name} | {half} | {value:g} | {row['precision']} | {row['pairs']} | {found:.3f} | {row['crop 10-20%']} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
