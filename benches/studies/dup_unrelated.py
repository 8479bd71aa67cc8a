"""How often unrelated photographs pass the default near-duplicate rule (issue 16, "holds at 1e8").

    python -m benches.studies.dup_unrelated /tmp/dh1 /tmp/dh3 ...   # corpus dirs written by dup_heldout.py

Every photograph file of the given `dup_corpus` corpora (originals and edited copies) is searched
together; pairs of files from different source pictures are unrelated. Prints how many of them the
rule links, the rate per pair, the unrelated neighbours an image would have at 1e6, 1e7 and 1e8
images at that rate, the largest group, and the source pairs linked most often.
"""

from __future__ import annotations

import argparse

import numpy as np
import polars as pl

import recipe_audit
from recipe_audit.dedup import thumbmatch
from recipe_audit.dedup.rule import window_rule_rows


def different_source_pairs(files: pl.DataFrame) -> int:
    """Pairs of files of different sources: every pair but those within one source."""
    per_source = files.group_by("source").len()["len"].to_numpy().astype(np.int64)
    return files.height * (files.height - 1) // 2 - int((per_source * (per_source - 1) // 2).sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--kinds", default="photo")
    args = ap.parse_args()
    table = pl.concat([pl.read_parquet(f"{d}/table.parquet") for d in args.dirs])
    table = table.filter(pl.col("source_kind").is_in(args.kinds.split(",")))
    files = window_rule_rows(recipe_audit.scan(table["path"].to_list(), progress=False)).join(table, on="path")
    thumbs, shape, signs = thumbmatch.thumbnails(files), thumbmatch.shapes(files), thumbmatch.sign_maps(files)
    pairs = thumbmatch.matched_pairs(thumbs, shape, signs=signs)
    groups = thumbmatch.matched_groups(thumbs, shape, signs=signs)
    source = files["source"].to_numpy()
    cross = source[pairs["a"].to_numpy()] != source[pairs["b"].to_numpy()]
    total = different_source_pairs(files)
    rate = cross.sum() / total
    sizes = np.bincount(groups)
    largest = files.filter(pl.Series(groups == np.argmax(sizes)))
    print(f"{files.height} files, {total:,} pairs from different sources, {int(cross.sum())} linked: P = {rate:.2e}")
    print(f"unrelated neighbours per image at 1e6 / 1e7 / 1e8: {rate * 1e6:.3g} / {rate * 1e7:.3g} / {rate * 1e8:.3g}")
    print(f"largest group: {sizes.max()} files from {largest['source'].n_unique()} sources")
    # Blank pictures (flat, pixel std under BLANK_STD) match by level: two black crops of different
    # photographs are the same picture to the rule, as intended, and false to strict precision.
    blank = (thumbs.std(axis=1) < thumbmatch.FLAT_STD) & thumbmatch._level_matched(shape, len(shape))
    both_blank = cross & blank[pairs["a"].to_numpy()] & blank[pairs["b"].to_numpy()]
    rest = int(cross.sum() - both_blank.sum())
    print(
        f"of them between two blank pictures: {int(both_blank.sum())}; the other {rest}: P = {rest / total:.2e}, "
        f"{rest / total * 1e8:.3g} unrelated neighbours per image at 1e8"
    )
    linked = pairs.filter(pl.Series(cross))
    print(
        linked.with_columns(a=pl.Series(source).gather(linked["a"]), b=pl.Series(source).gather(linked["b"]))
        .group_by("a", "b")
        .agg(pl.len(), pl.col("correlation").max())
        .sort("len", descending=True)
        .head(10)
    )


if __name__ == "__main__":
    main()
