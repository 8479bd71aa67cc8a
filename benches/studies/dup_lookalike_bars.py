"""Two stricter bars against look-alike links, measured (issue 16, "holds at 1e8"). Neither is adopted.

    python -m benches.studies.dup_lookalike_bars /tmp/dh1 /tmp/dh3 ... [--half tuning] \\
        [--rules narrow:0.6,narrow:0.8,banded:0.7:0.97] [--links-only]

What links unrelated photographs decides how the default rule behaves at 1e8 images. Two
candidate bars, each applied the way the rule judges a pair (on the pair's best window only, so
a pair whose best window fails is not saved by a worse one):

- ``narrow:R``: a match whose best window keeps 88% of a side needs correlation R (the tuning
  halves of seeds 1-17 had 89 of 108 unrelated links through such windows);
- ``banded:B:R``: a pair of pictures whose detail lies in one direction (at least B of the
  weighted AC energy of the whole thumbnail in its first DCT row or column: bands, such as a sky
  over dark ground) needs correlation R.

Per rule, prints the links between different sources over all corpora searched together (the
`dup_heldout.py` folders, `--half`; pairs of files of one source, in any corpus, are not counted)
and, unless `--links-only`, per corpus the recall per edit and the pairwise precision of
`find_duplicates` (`dup_heldout.judge`). Scans are cached in `--cache`.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

import recipe_audit
from recipe_audit.dedup import thumbmatch
from recipe_audit.dedup.rule import window_rule_rows

from benches.studies.dup_heldout import judge
from benches.studies.dup_unrelated import different_source_pairs

NARROW = sorted(
    i
    for i, ((x0, x1), (y0, y1), degrees) in enumerate(thumbmatch.WINDOWS)
    if degrees == 0.0 and min(x1 - x0, y1 - y0) < 0.9
)
"""Windows that keep 88% of a side (axis-aligned)."""


def banded_share(thumbs: np.ndarray) -> np.ndarray:
    """Per thumbnail, the share of its weighted AC energy (as the rule correlates it) in the first
    row or the first column of its DCT, whichever is larger."""
    whole = thumbmatch._unit_ac(thumbs.astype(np.float32) @ thumbmatch._whole_map().T)
    energy = (whole**2).reshape(-1, thumbmatch._GRID, thumbmatch._GRID)
    return np.maximum(energy[:, :, 0].sum(axis=1), energy[:, 0, :].sum(axis=1))


def failing(rule: tuple[str, ...]) -> pl.Expr:
    """The best candidates the rule rejects."""
    kind, *values = rule
    if kind == "narrow":
        return pl.col("window").is_in(NARROW) & (pl.col("correlation") < float(values[0]))
    if kind == "banded":
        return (pl.col("banded") >= float(values[0])) & (pl.col("correlation") < float(values[1]))
    return pl.lit(False)


@contextmanager
def installed(rule: tuple[str, ...]) -> Iterator[None]:
    """The default rule with `rule` added, for the duration (patched into `thumbmatch`)."""
    with_correlations, confirmed = thumbmatch._with_correlations, thumbmatch._confirmed

    def measured(candidates: pl.DataFrame, mine: np.ndarray, theirs: np.ndarray, *a: Any, **k: Any) -> pl.DataFrame:
        out = with_correlations(candidates, mine, theirs, *a, **k)
        band = np.minimum(banded_share(mine)[out["query"].to_numpy()], banded_share(theirs)[out["other"].to_numpy()])
        return out.with_columns(banded=pl.Series(band, dtype=pl.Float32))

    def judged(candidates: pl.DataFrame, *a: Any, **k: Any) -> pl.DataFrame:
        kept = confirmed(candidates, *a, **k)
        if candidates.height == 0:
            return kept
        rejected = (
            candidates.sort("correlation", descending=True)
            .group_by("a", "b", maintain_order=True)
            .first()
            .filter(failing(rule))
            .select("a", "b")
        )
        return kept.join(rejected, on=["a", "b"], how="anti", maintain_order="left")

    thumbmatch._with_correlations, thumbmatch._confirmed = measured, judged  # type: ignore[assignment]
    try:
        yield
    finally:
        thumbmatch._with_correlations, thumbmatch._confirmed = with_correlations, confirmed


def scanned(folder: Path, half: str, cache: Path) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The corpus table of photographs, its rows of `half`, and the scan of those."""
    whole = pl.read_parquet(folder / "table.parquet").filter(pl.col("source_kind") == "photo")
    table = whole if half == "all" else whole.filter(pl.col("half") == half)
    cache.mkdir(parents=True, exist_ok=True)
    stored = cache / f"{folder.name}_{half}_photo.parquet"
    if stored.exists():
        scan = pl.read_parquet(stored)
    else:
        scan = recipe_audit.scan(table["path"].to_list(), progress=False)
        scan.write_parquet(stored)
    return whole, table, scan


def unrelated_links(files: pl.DataFrame) -> int:
    """Links between files of different sources."""
    thumbs, shape, signs = thumbmatch.thumbnails(files), thumbmatch.shapes(files), thumbmatch.sign_maps(files)
    pairs = thumbmatch.matched_pairs(thumbs, shape, signs=signs)
    source = files["source"].to_numpy()
    return int((source[pairs["a"].to_numpy()] != source[pairs["b"].to_numpy()]).sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--half", default="tuning", choices=["tuning", "heldout", "all"])
    ap.add_argument("--rules", default="none,narrow:0.7,narrow:0.8,banded:0.7:0.97,banded:0.6:0.97")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/dup_lookalike_bars"))
    ap.add_argument("--links-only", action="store_true", help="count the unrelated links, skip the recall tables")
    args = ap.parse_args()
    rules = [tuple(r.split(":")) for r in args.rules.split(",")]
    corpora = [scanned(d, args.half, args.cache) for d in args.dirs]
    # Unrelated links are counted over all corpora searched together: at a rate of 1e-8 one
    # corpus (1.6e6 pairs) shows none.
    pooled = pl.concat([window_rule_rows(scan).join(table, on="path") for _, table, scan in corpora])
    pairs = different_source_pairs(pooled)
    print(f"### Unrelated links, {len(corpora)} corpora searched together ({pooled.height:,} files, {pairs:,} pairs)\n")
    print("| rule | links | P per pair | unrelated neighbours per image at 1e8 |\n|---|---|---|---|")
    for rule in rules:
        with installed(rule):
            links = unrelated_links(pooled)
        print(f"| {':'.join(rule)} | {links} | {links / pairs:.2e} | {links / pairs * 1e8:.2g} |", flush=True)
    if args.links_only:
        return
    for folder, (whole, table, scan) in zip(args.dirs, corpora, strict=True):
        print(f"\n### {folder.name}, {args.half} half: {table.height} files\n")
        rows = []
        for rule in rules:
            with installed(rule):
                judged = judge(whole, recipe_audit.find_duplicates(scan))
            rows += [{"rule": ":".join(rule), **row} for h, row in judged.items() if args.half in (h, "all")]
        columns = list(rows[0])
        print("| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
        for row in rows:
            print("| " + " | ".join(str(row[c]) for c in columns) + " |", flush=True)


if __name__ == "__main__":
    main()
