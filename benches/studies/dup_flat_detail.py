"""Links through the flat-picture rule, true and false, and what would tell them apart: a study for
issue 16 on the telescope pictures of the unseen sources (BENCHMARKS.md, "Sources never seen").

    python -m benches.studies.dup_flat_detail /tmp/dh125f [--half tuning]   # a dup_heldout folder

A picture whose 16x16 thumbnail varies by less than `thumbmatch.FLAT_STD` matches other flat
pictures by mean level and hue only, as blank frames should. A black sky with a few stars is such
a picture, and so crops of different star fields link. For every direct link through that rule
(`thumbmatch.matched_pairs`, correlation null), true or false by `dup_corpus.true_pair`, this
prints the distribution of three things the scan already holds: the agreement of the band-pass
signs (``thumb_signs``, whole picture to whole picture), the Hamming distance of the 64-bit
``phash``, and the pictures' luma ``std`` (detail the thumbnail averages away); then, per pHash
bar, the links each side kept, a rule that keeps blank frames matching but asks pictures with
detail to agree, and the edits of the true links a bar would lose.

Seed 125 of the unseen sources: 4,255 of the 4,901 links are false; 986 of them join two pictures
blank by their own ``std`` (< 2: interchangeable black frames), 2,438 a blank one and one with
stars, 831 two with stars. The rule above keeps 527 of 646 true links and 986 false ones (the
blank pairs); the true links it loses are crops, flips and turns of star fields, which move the
stars. Built as `thumbmatch.BLANK_STD` and `FLAT_DETAIL_DISTANCE` (BENCHMARKS.md, "Star fields
and galaxies on black"): this study now measures the rule in place, so its false flat links are
the blank pairs only. A second table pairs every flat picture with detail of one half (how
`FLAT_DETAIL_DISTANCE` and `FLAT_SIGN_BEYOND_CHANCE` were chosen, on seed 131's tuning half).
"""

from __future__ import annotations

import argparse
import itertools
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

import recipe_audit
import recipe_audit.dedup.thumbmatch as thumbmatch

from benches.studies.dup_corpus import true_pair


def _quantiles(x: np.ndarray) -> str:
    return " / ".join(f"{v:.2f}" for v in np.quantile(x, [0.05, 0.25, 0.5, 0.75, 0.95]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path, help="a dup_heldout --dir (table.parquet and its files)")
    ap.add_argument("--min-std", type=float, default=2.0, help="luma std from which a flat picture has detail")
    ap.add_argument("--half", default="tuning", help="the half whose flat pictures with detail are paired")
    args = ap.parse_args()
    table = pl.read_parquet(args.folder / "table.parquet")
    files = recipe_audit.scan(table["path"].to_list(), progress=False).join(
        table.select("path", "transform"), on="path"
    )
    is_true = true_pair(table)
    thumbs = thumbmatch.thumbnails(files)
    pairs = thumbmatch.matched_pairs(thumbs, thumbmatch.shapes(files), signs=thumbmatch.sign_maps(files))
    flat = pairs.filter(pl.col("correlation").is_null())
    a, b = flat["a"].to_numpy(), flat["b"].to_numpy()
    paths = files["path"].to_numpy()
    false = np.array([not is_true(paths[i], paths[j]) for i, j in zip(a, b, strict=True)], dtype=bool)
    signs = thumbmatch.sign_maps(files)
    agreement = (signs[a] == signs[b]).mean(axis=1)
    phash = files["phash"].to_numpy().astype(np.uint64)
    distance = np.array([bin(int(v)).count("1") for v in np.bitwise_xor(phash[a], phash[b])])
    detail = files["std"].to_numpy()
    both_detailed = (detail[a] >= args.min_std) & (detail[b] >= args.min_std)
    print(
        f"{int((thumbs.std(axis=1) < thumbmatch.FLAT_STD).sum())} flat pictures of {files.height}; "
        f"{len(a)} direct links through the flat rule, {int(false.sum())} false\n"
    )
    both_blank = (detail[a] < args.min_std) & (detail[b] < args.min_std)
    print("| links | count | sign agreement (5/25/50/75/95%) | pHash distance | both with detail | both blank |")
    print("|---|---|---|---|---|---|")
    for name, part in (("true", ~false), ("false", false)):
        print(
            f"| {name} | {int(part.sum())} | {_quantiles(agreement[part])} | {_quantiles(distance[part])} | "
            f"{int((part & both_detailed).sum())} | {int((part & both_blank).sum())} |"
        )
    print("\n| pHash bar (pairs with detail only) | true kept | false kept |\n|---|---|---|")
    for bar in (10, 14, 18, 22):
        kept = ~both_detailed | (distance <= bar)
        print(
            f"| {bar} | {int((kept & ~false).sum())}/{int((~false).sum())} | {int((kept & false).sum())}/{int(false.sum())} |"
        )
    # A rule to try: a flat picture with detail never matches a blank one by level, and two with
    # detail need their pHashes within 14 bits; blank frames keep matching each other.
    mixed = ~both_detailed & ~both_blank
    kept = both_blank | (both_detailed & (distance <= 14))
    print(
        f"\ndetail must agree (no blank-with-detail links; pHash <= 14 between detailed): true kept "
        f"{int((kept & ~false).sum())}/{int((~false).sum())}, false kept {int((kept & false).sum())}/{int(false.sum())} "
        f"(false links between a blank and a detailed picture: {int((mixed & false).sum())})"
    )
    lost = ~false & both_detailed & (distance > 14)
    edits = files["transform"].to_numpy()
    print(f"\ntrue links lost at 14 bits, by edit: {Counter([*edits[a[lost]], *edits[b[lost]]]).most_common(8)}")
    detail_pairs_table(
        files.filter(pl.col("path").is_in(table.filter(pl.col("half") == args.half)["path"].implode())), is_true
    )


def detail_pairs_table(files: pl.DataFrame, is_true: Callable[[str, str], bool]) -> None:
    """Every pair of flat pictures with detail (`thumbmatch.DETAIL_STD`), true or false: their
    pHash distance (directly or through a mirror image) and how far their whole sign maps agree
    beyond chance, then what each pair of bars keeps (BENCHMARKS.md, "Star fields and galaxies
    on black")."""
    thumbs, shape, signs = thumbmatch.thumbnails(files), thumbmatch.shapes(files), thumbmatch.sign_maps(files)
    rows = np.flatnonzero((thumbs.std(axis=1) < thumbmatch.FLAT_STD) & thumbmatch._detail_matched(shape, files.height))
    hashes, paths = thumbmatch._whole_hashes(shape), files["path"].to_numpy()
    a, b = (np.array(x, np.int64) for x in zip(*itertools.combinations(rows, 2), strict=True))
    bits = thumbmatch._bit_counts
    direct = bits(hashes[a, 0] ^ hashes[b, 0])
    mirrored = np.minimum(bits(hashes[a, 1] ^ hashes[b, 0]), bits(hashes[a, 0] ^ hashes[b, 1]))
    theirs = signs[b]
    theirs[mirrored < direct] = theirs[mirrored < direct][:, thumbmatch._MIRROR_CELLS]
    beyond = np.nan_to_num(thumbmatch._signs_beyond_chance(signs[a], theirs), nan=1.0)
    distance = np.minimum(direct, mirrored)
    true = np.array([is_true(paths[i], paths[j]) for i, j in zip(a, b, strict=True)], dtype=bool)
    print(f"\n{len(rows)} flat pictures with detail, {len(a)} pairs, {int(true.sum())} true\n")
    print("| pairs | pHash distance (5/25/50/75/95%) | signs beyond chance |\n|---|---|---|")
    for name, part in (("true", true), ("false", ~true)):
        print(f"| {name} | {_quantiles(distance[part])} | {_quantiles(beyond[part])} |")
    print("\n| pHash bar | signs bar | true kept | false kept |\n|---|---|---|---|")
    for bar in (14, 18, 22, 26):
        for sign_bar in (-1.0, 0.1, 0.2, 0.32):
            kept = (distance <= bar) & (beyond >= sign_bar)
            print(
                f"| {bar} | {'none' if sign_bar < 0 else sign_bar} | {int((kept & true).sum())}/{int(true.sum())} "
                f"| {int((kept & ~true).sum())}/{int((~true).sum())} |"
            )


if __name__ == "__main__":
    main()
