"""Groups when look-alike links are denser than the default rule makes them, on real pictures
(issue 16, "holds at 1e8").

    python -m benches.studies.dup_lookalike_chains /tmp/dh149 /tmp/dh151 ... [--looser 0.3:0.1:14 ...]

At the measured rate of unrelated links (1e-8 to 1e-7 a pair), a picture of a 1e8 collection has
1 to 10 unrelated neighbours; in a corpus of 60,000 files it has 0.001. `dup_percolation`
simulates such a lake with links drawn uniformly at random, but real look-alike links gather among
look-alike pictures (skies over dark ground, misty landscapes, galaxies) and may chain otherwise.
Here the rule's bars are lowered on the real files of `dup_heldout` corpora
(``--looser CORR:SIGNS[:RADIUS]``: the thumbnail correlation, the band-pass signs' share beyond
chance for every picture, dark skies included, and the candidates' Hamming radius, 10 unless
given) so that they link far more unrelated pictures (at most about 0.5 a picture: the window
scores' other checks stop there), and the files are grouped two ways: plain connected components
of the links, and the groups `find_duplicates` makes of them (`cuts.kept_links`).

Prints per setting: unrelated links a picture (d), the largest group, the share of files whose
group holds another source ("mixed"), and the share of the pairs of copies of one original that
the rule linked which still share a group (the cut's cost to recall).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import polars as pl

import recipe_audit
from recipe_audit.dedup import cuts, thumbmatch
from recipe_audit.dedup.rule import window_rule_rows

from benches.studies.dup_percolation import judged


def _cells(judgement: tuple[int, float, float]) -> str:
    largest, mixed, kept = judgement
    return f"{largest:,} | {mixed:.1%} | {kept:.4f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--looser", nargs="+", default=["0.6:0.32", "0.45:0.2", "0.4:0.12", "0.35:0.06"])
    args = ap.parse_args()
    table = pl.concat([pl.read_parquet(f"{d}/table.parquet") for d in args.dirs]).filter(
        pl.col("source_kind") == "photo"
    )
    # A corpus folder's scan.parquet, where a study left one, else a scan now.
    saved = [Path(d) / "scan.parquet" for d in args.dirs]
    if all(p.exists() for p in saved):
        scanned = pl.concat([pl.read_parquet(p) for p in saved], how="diagonal_relaxed")
    else:
        scanned = recipe_audit.scan(table["path"].to_list(), progress=False)
    files = window_rule_rows(scanned).join(table, on="path")
    thumbs, shape, signs = thumbmatch.thumbnails(files), thumbmatch.shapes(files), thumbmatch.sign_maps(files)
    source = files["source"].to_numpy()
    codes = np.unique(source, return_inverse=True)[1]  # a group mixes when it holds two sources
    original = files["original"].to_numpy()
    n = files.height
    print(f"{n:,} photograph files of {len(set(source))} sources\n")
    print(
        "| correlation, signs beyond chance, hash radius | unrelated links a picture (d) | components: largest | mixed | copies' links kept |"
        " cut groups: largest | mixed | copies' links kept | cut time |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    bars = (thumbmatch.SIGN_BEYOND_CHANCE, thumbmatch.DARK_SKY_SIGN_BEYOND_CHANCE)
    try:
        for setting in args.looser:
            correlation, share, radius = (float(v) for v in (setting + ":10").split(":")[:3])
            thumbmatch.SIGN_BEYOND_CHANCE = thumbmatch.DARK_SKY_SIGN_BEYOND_CHANCE = share
            pairs = thumbmatch.matched_pairs(
                thumbs, shape, signs=signs, min_correlation=correlation, candidate_distance=int(radius)
            )
            a, b = pairs["a"].to_numpy().astype(np.int64), pairs["b"].to_numpy().astype(np.int64)
            d = 2 * float((source[a] != source[b]).sum()) / n
            same = original[a] == original[b]
            plain = _cells(judged(n, a, b, codes, a[same], b[same]))
            start = time.perf_counter()
            keep = cuts.kept_links(n, a, b)
            seconds = time.perf_counter() - start
            cut = _cells(judged(n, a[keep], b[keep], codes, a[same], b[same]))
            print(
                f"| {correlation:g}, {share:g}, {radius:g} | {d:.2f} | {plain} | {cut} | {seconds:.1f} s |", flush=True
            )
    finally:
        thumbmatch.SIGN_BEYOND_CHANCE, thumbmatch.DARK_SKY_SIGN_BEYOND_CHANCE = bars


if __name__ == "__main__":
    main()
