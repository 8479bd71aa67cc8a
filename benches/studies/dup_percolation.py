"""When do near-duplicate groups percolate? Connected components against groups cut where they
hang on a few links (`recipe_audit.dedup.cuts`), on a simulated lake (issue 16, "holds at 1e8").

    python -m benches.studies.dup_percolation [--images 1000000] [--family-share 0.2] [--family-size 12]

The lake: `--images` pictures, `--family-share` of them in families of copies of one picture
(`--family-size` each; each pair of a family linked with probability 0.7, as the true copies of one
original are in `dup_corpus`), the rest alone. On top, unrelated links drawn uniformly at random
with a mean of `d` per picture: a lake of N images at the measured rate P of unrelated links per
pair has d = P N (BENCHMARKS.md: P = 9.0e-9 held out, so d = 0.9 at 1e8). For each d, prints
the largest group, and the share of pictures whose group holds pictures of another family or
singles, with plain connected components and with the cut groups.

Uniform random links are the textbook percolation model: real look-alike links gather among
look-alike pictures (smooth wallpapers, skies), so this shows what the grouping does with the
links, not how often the rule makes them.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import recipe_audit._core as _core
from recipe_audit.dedup import cuts

DEGREES = (0.1, 0.3, 0.6, 0.9, 1.5, 3.0, 3.4)


def lake(images: int, family_share: float, family_size: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """The family links (a, b) and each picture's family id (its own index when alone)."""
    families = int(images * family_share) // family_size
    family = np.arange(images)
    a, b = [], []
    iu, ju = np.triu_indices(family_size, 1)
    for f in range(families):
        start = f * family_size
        family[start : start + family_size] = start
        keep = rng.random(len(iu)) < 0.7
        a.append(start + iu[keep])
        b.append(start + ju[keep])
    empty = np.zeros(0, dtype=np.int64)
    return (np.concatenate(a) if a else empty), (np.concatenate(b) if b else empty), family


def judged(
    images: int, a: np.ndarray, b: np.ndarray, family: np.ndarray, fa: np.ndarray, fb: np.ndarray
) -> tuple[int, float, float]:
    """The largest group, the share of pictures whose group mixes families, and the share of the
    family links (fa, fb) whose ends share a group."""
    roots = _core.hamming_components(images, a.astype(np.uint32), b.astype(np.uint32)).astype(np.int64)
    largest = int(np.bincount(roots).max())
    kept = float((roots[fa] == roots[fb]).mean()) if len(fa) else 1.0
    # A group mixes when its members' family ids are not all one.
    low = np.full(images, np.iinfo(np.int64).max)
    high = np.full(images, -1)
    np.minimum.at(low, roots, family)
    np.maximum.at(high, roots, family)
    return largest, float((low[roots] != high[roots]).mean()), kept


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=1_000_000)
    ap.add_argument("--family-share", type=float, default=0.2)
    ap.add_argument("--family-size", type=int, default=12)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--degrees", type=float, nargs="+", default=DEGREES, help="unrelated links per picture, d")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    n = args.images
    fa, fb, family = lake(n, args.family_share, args.family_size, rng)
    print(
        f"{n:,} pictures, {args.family_share:.0%} in families of {args.family_size}; unrelated links uniform, "
        f"d per picture (d = P N; P = 9.0e-9 gives d = 0.9 at 1e8)\n"
    )
    print(
        "| d | images at P = 9.0e-9 | components: largest group | mixed | cut groups: largest group | mixed "
        "| copies' links kept | cut time |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for d in args.degrees:
        m = int(d * n / 2)
        ra, rb = rng.integers(0, n, m), rng.integers(0, n, m)
        a, b = np.concatenate([fa, ra]), np.concatenate([fb, rb])
        plain = judged(n, a, b, family, fa, fb)
        start = time.perf_counter()
        keep = cuts.kept_links(n, a, b)
        seconds = time.perf_counter() - start
        cut = judged(n, a[keep], b[keep], family, fa, fb)
        print(
            f"| {d:g} | {d / 9.0e-9:.1e} | {plain[0]:,} | {plain[1]:.1%} | {cut[0]:,} | {cut[1]:.1%} | {cut[2]:.4f} "
            f"| {seconds:.1f} s |",
            flush=True,
        )


if __name__ == "__main__":
    main()
