"""When do near-duplicate groups percolate? Connected components against groups cut where they
hang on a few links (`recipe_audit.dedup.cuts`), on a simulated lake (issue 16, "holds at 1e8").

    python -m benches.studies.dup_percolation [--images 1000000] [--family-share 0.2] [--family-size 12 ...]
        [--themes 30:2] [--scores-from /tmp/dh149 ... --half heldout]

The lake: `--images` pictures, `--family-share` of them in families of copies of one picture
(`--family-size` each, or sizes drawn from the given ones; each pair of a family linked with
probability 0.7, as the true copies of one original are in `dup_corpus`), the rest alone. On top,
unrelated links drawn uniformly at random with a mean of `d` per picture: a lake of N images at
the measured rate P of unrelated links per pair has d = P N (BENCHMARKS.md: P = 9.0e-9 held out,
so d = 0.9 at 1e8). With ``--themes T:D``, D of the d fall inside themes of T pictures (look-alikes
that gather and close triangles, the members of a family spread over many themes).

Without ``--scores-from`` the links have no score (all count the same, none as surely a copy's);
with it, the copies' links draw theirs
from the window correlations of real copies, the unrelated ones from those of real unrelated
pairs the default rule linked (few: 4 on the held-out halves of six corpora, 30 on both), on one
half (``--half``; ``both``) of `dup_heldout` folders (each with its `table.parquet`, and its
`scan.parquet`, scanned now where missing); with ``--look-alikes-as-copies`` the unrelated ones draw from the copies' scores
too, so that a copy's look-alike outscores its copy as often as another copy would.

For each d, prints the largest group, the share of pictures whose group holds pictures of another
family or singles, and the pairs of pictures of different families that share a group, per
picture (a pair rule alone makes d / 2 a picture), with plain connected components and with the
cut groups, the share of the families' links whose ends the cut keeps together (all, and
those of families of two, which hang on their one link), and per family size the share of the
families joined by their own links that the cut leaves in more than one group.

Uniform random links are the textbook percolation model: real look-alike links gather among
look-alike pictures (smooth wallpapers, skies), so this shows what the grouping does with the
links, not how often the rule makes them.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import polars as pl

import recipe_audit._core as _core
from recipe_audit.dedup import cuts, thumbmatch
from recipe_audit.dedup.rule import window_rule_rows

from benches.studies.dup_search_cost import scans

DEGREES = (0.1, 0.3, 0.6, 0.9, 1.5, 3.0, 3.4)


def lake(images: int, family_share: float, family_sizes: list[int], rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """The family links (a, b) and each picture's family id (its own index when alone)."""
    family = np.arange(images)
    a, b = [], []
    start = 0
    while True:
        size = int(rng.choice(family_sizes))
        if start + size > images * family_share:
            break
        family[start : start + size] = start
        iu, ju = np.triu_indices(size, 1)
        keep = rng.random(len(iu)) < 0.7
        a.append(start + iu[keep])
        b.append(start + ju[keep])
        start += size
    empty = np.zeros(0, dtype=np.int64)
    return (np.concatenate(a) if a else empty), (np.concatenate(b) if b else empty), family


def real_scores(dirs: list[str], half: str) -> tuple[np.ndarray, np.ndarray]:
    """The window correlations of the links the default rule makes between copies of one
    original, and between pictures of different sources, on `half` of `dup_heldout` folders."""
    copies, unrelated = [], []
    for folder in dirs:
        table = pl.read_parquet(f"{folder}/table.parquet")
        files = window_rule_rows(pl.read_parquet(scans([Path(folder)])[0])).join(table, on="path")
        # Links only within a half, as `dup_heldout` judges them.
        files = files.filter(pl.col("half") == half) if half != "both" else files
        pairs = thumbmatch.matched_pairs(
            thumbmatch.thumbnails(files), thumbmatch.shapes(files), signs=thumbmatch.sign_maps(files)
        ).drop_nulls("correlation")
        a, b = pairs["a"].to_numpy(), pairs["b"].to_numpy()
        original, source = files["original"].to_numpy(), files["source"].to_numpy()
        score = pairs["correlation"].to_numpy()
        halves = files["half"].to_numpy()
        within = halves[a] == halves[b]
        copies.append(score[within & (original[a] == original[b])])
        unrelated.append(score[within & (source[a] != source[b])])
    return np.concatenate(copies), np.concatenate(unrelated)


def false_pairs(images: int, roots: np.ndarray, family: np.ndarray) -> float:
    """Pairs of pictures of different families sharing a group, per picture."""
    group_sizes = np.bincount(roots, minlength=images).astype(np.float64)
    _, together = np.unique(roots * images + family, return_counts=True)
    together = together.astype(np.float64)
    return float(((group_sizes * (group_sizes - 1)).sum() - (together * (together - 1)).sum()) / 2 / images)


def groups(images: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _core.hamming_components(images, a.astype(np.uint32), b.astype(np.uint32)).astype(np.int64)


def judged(
    images: int, a: np.ndarray, b: np.ndarray, family: np.ndarray, fa: np.ndarray, fb: np.ndarray
) -> tuple[int, float, float]:
    """The largest group, the share of pictures whose group mixes families, and the share of the
    family links (fa, fb) whose ends share a group."""
    roots = groups(images, a, b)
    largest = int(np.bincount(roots).max())
    kept = float((roots[fa] == roots[fb]).mean()) if len(fa) else 1.0
    # A group mixes when its members' family ids are not all one.
    return largest, float(_spread(images, family, roots)[roots].mean()), kept


def _spread(images: int, label: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Per owner id (a family, a group), whether its members carry more than one `label`."""
    low = np.full(images, np.iinfo(np.int64).max)
    high = np.full(images, -1)
    np.minimum.at(low, owner, label)
    np.maximum.at(high, owner, label)
    spread: np.ndarray = low != high
    return spread


def split_by_size(images: int, a: np.ndarray, b: np.ndarray, family: np.ndarray, fa: np.ndarray, fb: np.ndarray) -> str:
    """Per family size, the share of the families that their own links join but that end in more
    than one group (a family of three linked o-c1, o-c2 closes no triangle and fares like pairs)."""
    sizes = np.bincount(family, minlength=images)
    whole = ~_spread(images, groups(images, fa, fb), family)
    split = _spread(images, groups(images, a, b), family)
    shares = []
    for size in np.unique(sizes[sizes >= 2]):
        ids = np.flatnonzero((sizes == size) & whole)
        shares.append(f"{size}: {split[ids].mean():.3f}" if len(ids) else f"{size}: -")
    return ", ".join(shares)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=1_000_000)
    ap.add_argument("--family-share", type=float, default=0.2)
    ap.add_argument("--family-size", type=int, nargs="+", default=[12])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--degrees", type=float, nargs="+", default=DEGREES, help="unrelated links per picture, d")
    ap.add_argument("--themes", help="T:D, D of the d unrelated links a picture inside themes of T pictures")
    ap.add_argument("--scores-from", nargs="+", help="dup_heldout folders whose real links give the scores")
    ap.add_argument("--half", default="heldout", choices=("tuning", "heldout", "both"))
    ap.add_argument(
        "--look-alikes-as-copies",
        action="store_true",
        help="the unrelated links draw their scores from the copies' (the worst case for the copies' links)",
    )
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    n = args.images
    fa, fb, family = lake(n, args.family_share, args.family_size, rng)
    copy_scores, unrelated_scores = (
        real_scores(args.scores_from, args.half) if args.scores_from else (np.ones(1), np.ones(1))
    )
    if args.look_alikes_as_copies:
        unrelated_scores = copy_scores
    size_text, inside_text = args.themes.split(":") if args.themes else ("1", "0")
    theme_size, inside = int(size_text), float(inside_text)
    members = np.argsort(rng.permutation(n) // theme_size, kind="stable")
    print(
        f"{n:,} pictures, {args.family_share:.0%} in families of {'/'.join(map(str, args.family_size))}; unrelated links "
        + (f"{inside:g} a picture inside themes of {theme_size}, the rest uniform" if args.themes else "uniform")
        + f"; scores: {f'real, {args.half} half ({len(copy_scores):,} copies, {len(unrelated_scores):,} unrelated)' if args.scores_from else 'none'}"
        + (", unrelated ones drawn from the copies'" if args.look_alikes_as_copies else "")
        + "\n"
    )
    print(
        "| d | images at P = 9.0e-9 | components: largest group | mixed | false pairs a picture "
        "| cut groups: largest group | mixed | false pairs a picture | copies' links kept | pairs' links kept "
        "| families split, by size | cut time |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    family_score = rng.choice(copy_scores, len(fa))
    # The links of families of two: a pair has no triangle, and holds on by its one link.
    in_pairs = np.bincount(family, minlength=n)[family[fa]] == 2
    for d in args.degrees:
        m_inside = int(min(inside, d) * n / 2)
        m = int(d * n / 2) - m_inside
        x = rng.integers(0, n, m_inside)
        # A picture's place among the themes' members: its theme is place // theme_size.
        place = np.argsort(members)
        y = members[np.minimum(place[x] // theme_size * theme_size + rng.integers(0, theme_size, m_inside), n - 1)]
        ra, rb = np.concatenate([x, rng.integers(0, n, m)]), np.concatenate([y, rng.integers(0, n, m)])
        a, b = np.concatenate([fa, ra]), np.concatenate([fb, rb])
        score = np.concatenate([family_score, rng.choice(unrelated_scores, len(ra))])
        plain = judged(n, a, b, family, fa, fb)
        start = time.perf_counter()
        keep = cuts.kept_links(n, a, b, score if args.scores_from else None)
        seconds = time.perf_counter() - start
        cut = judged(n, a[keep], b[keep], family, fa, fb)
        kept_pairs = (
            judged(n, a[keep], b[keep], family, fa[in_pairs], fb[in_pairs])[2] if in_pairs.any() else float("nan")
        )
        print(
            f"| {d:g} | {d / 9.0e-9:.1e} | {plain[0]:,} | {plain[1]:.1%} | {false_pairs(n, groups(n, a, b), family):.3g} "
            f"| {cut[0]:,} | {cut[1]:.1%} | {false_pairs(n, groups(n, a[keep], b[keep]), family):.3g} | {cut[2]:.4f} | {kept_pairs:.4f} "
            f"| {split_by_size(n, a[keep], b[keep], family, fa, fb)} | {seconds:.1f} s |",
            flush=True,
        )


if __name__ == "__main__":
    main()
