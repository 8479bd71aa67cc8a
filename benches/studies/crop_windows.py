"""Crop-tolerant near-duplicate matching: several pHashes per image over sub-windows (issue 3).

    python -m benches.studies.crop_windows [N_ORIGINALS] [N_VARIED] [N_EXACT] [--cache FILE]   # defaults 400 150 30

Ground truth is benches/studies/dup_quality.py's corpus (same seed, same 12 transforms, same strict
precision: a pair is right when both files descend from one original; pairs of originals with
IoU >= 0.8 are left out), plus three ASYMMETRIC crops of each varied original, reported apart from the
overall recall: ``crop_asym`` (each side trimmed independently by a uniform 0-5%), ``crop_corner_5%``
(two adjacent sides, corner drawn at random) and ``crop_side_5%`` (one side drawn at random).

Every image gets the pHash of 81 windows: the trim at each side in {0, 2.5%, 5%} (window 0 is the full
image), as a 64-bit pHash (low 8x8 DCT of the 32x32 Lanczos thumbnail, like imagehash) and a 256-bit
one (low 16x16 of the same DCT). They come from one matrix product per image: PIL's antialiased
Lanczos of a window is a linear map per axis, so the low DCT of every (rows range, columns range)
window is ``(C16 My) G (C16 Mx)^T``, G the gray image; bits against the median, packed row-major MSB
first like the scan's u64 (float arithmetic, where PIL rounds to uint8 between passes: the full-image
hash is compared with scan's ``phash`` below). Candidates: full(A) within r1 of full(B), or full(A)
within r2 of one of B's windows in the set (or the other way round; a crop's full-image hash resembles
the original's matching window), exact search with _core.hamming_pairs / hamming_pairs_across.
Optional check: the 256-bit distance within R3, of the pair that matched ("matched") or the smallest
over all 81 windows of either image against the other's full image ("all 81").
``--cache FILE`` keeps the hashes (npz) for reruns of the matching.

Prints: (a) 64-bit windows alone, every window set and (r1, r2); (b) candidates confirmed by the
256-bit pHash; (c) recall per transform of each set's best row with precision >= 0.99. Precision is
over the benchmark's files (dup_quality.py's corpus) and, in another column, with the asym crops too.
Full size (2000 500 100, 9,600 files) takes ~12 min on 2 busy cores, mostly the numpy window hashes.
"""

from __future__ import annotations

import functools
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

import recipe_audit
from recipe_audit import _core

from benches.studies import dup_quality as dq

TRIMS = (0.0, 0.025, 0.05)
RANGES = [(a, b) for a in TRIMS for b in TRIMS]  # (trim at start, trim at end) of one axis
R1S = (0, 2, 4, 6, 8, 10)
R2S = (0, 2, 4, 6, 8)
CONF_R = ((6, 8), (10, 8), (16, 10))  # (r1, r2) of the 64-bit candidates checked with the 256-bit pHash
R3S = (20, 24, 28)  # 256-bit confirmation radii
MIN_PRECISION = 0.99


def wid(top=0.0, bottom=0.0, left=0.0, right=0.0) -> int:
    """Index of a window (trims per side) among the 81."""
    return RANGES.index((top, bottom)) * len(RANGES) + RANGES.index((left, right))


T = (0.025, 0.05)
CENTRE = [wid(t, t, t, t) for t in T]
CORNERS = [wid(top=t * a, bottom=t * (1 - a), left=t * b, right=t * (1 - b)) for t in T for a in (0, 1) for b in (0, 1)]
SIDES = [wid(**{s: t}) for t in T for s in ("top", "bottom", "left", "right")]
WINDOW_SETS = {  # name -> windows matched against the full-image hashes (window 0 = full is implied)
    "full only": [],
    "centre 2.5/5%": CENTRE,
    "centre + corners": CENTRE + CORNERS,
    "centre + corners + sides": CENTRE + CORNERS + SIDES,
    "grid 3^4 (80)": list(range(1, len(RANGES) ** 2)),
}

ASYM_RNG = np.random.default_rng(11)
CORNER_TRIMS = [(0.05, 0.05, 0, 0), (0, 0.05, 0.05, 0), (0.05, 0, 0, 0.05), (0, 0, 0.05, 0.05)]  # l, t, r, b
SIDE_TRIMS = [(0.05, 0, 0, 0), (0, 0.05, 0, 0), (0, 0, 0.05, 0), (0, 0, 0, 0.05)]


def _crop_sides(im: Image.Image, left: float, top: float, right: float, bottom: float) -> Image.Image:
    w, h = im.size
    return im.crop((int(w * left), int(h * top), w - int(w * right), h - int(h * bottom)))


ASYM = {
    "crop_asym": (lambda im: _crop_sides(im, *ASYM_RNG.uniform(0, 0.05, 4)), None, 90),
    "crop_corner_5%": (lambda im: _crop_sides(im, *CORNER_TRIMS[ASYM_RNG.integers(4)]), None, 90),
    "crop_side_5%": (lambda im: _crop_sides(im, *SIDE_TRIMS[ASYM_RNG.integers(4)]), None, 90),
}

C16 = 2 * np.cos(np.pi * np.arange(16)[:, None] * (2 * np.arange(32)[None, :] + 1) / 64)  # scipy DCT-II rows


def _resample(n: int, lo: float, hi: float, out: int = 32) -> np.ndarray:
    """PIL's antialiased Lanczos (ImagingResample coefficients) from [lo, hi) of n pixels: out x n."""
    scale = (hi - lo) / out
    fs = max(scale, 1.0)
    support = 3.0 * fs
    c = lo + (np.arange(out) + 0.5) * scale
    j = np.arange(n)[None, :]
    x = (j - c[:, None] + 0.5) / fs
    w = np.sinc(x) * np.sinc(x / 3) * (np.abs(x) < 3)
    w[
        (j < np.maximum((c - support + 0.5).astype(int), 0)[:, None]) | (j >= (c + support + 0.5).astype(int)[:, None])
    ] = 0
    return w / w.sum(1, keepdims=True)


@functools.lru_cache(maxsize=256)
def _axis(n: int) -> np.ndarray:
    """Low 16 DCT rows of the 32-pixel Lanczos thumbnail of each of the 9 ranges of an axis: 144 x n."""
    return np.concatenate([C16 @ _resample(n, a * n, n - b * n) for a, b in RANGES])


def _pack(low: np.ndarray) -> np.ndarray:
    bits = low > np.median(low, axis=1, keepdims=True)
    return np.packbits(bits, axis=1).view(">u8").astype(np.uint64)


def window_hashes(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Per window (81): the 64-bit pHash (low 8x8 DCT) and a 256-bit pHash (low 16x16, 4 x u64)."""
    with Image.open(path) as im:
        g = np.asarray(im.convert("L"), dtype=np.float64)
    k = len(RANGES)
    low = (
        (_axis(g.shape[0]) @ g @ _axis(g.shape[1]).T).reshape(k, 16, k, 16).transpose(0, 2, 1, 3).reshape(k * k, 16, 16)
    )
    return _pack(low[:, :8, :8].reshape(k * k, 64))[:, 0], _pack(low.reshape(k * k, 256))


def build(n_orig: int, n_varied: int, n_exact: int) -> dict:
    """Corpus, scan, window hashes and ground truth arrays."""
    dq.TRANSFORMS.update(ASYM)  # build_corpus reads the module's dict: one more copy per asym crop
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        group, truth, table = dq.build_corpus(Path(tmp), n_orig, n_varied, n_exact)
        t_build = time.perf_counter() - t0
        df = recipe_audit.scan(tmp, progress=False)
        df = df.filter(df["status"] == "ok")
        t_scan = time.perf_counter() - t0 - t_build
        paths = df["path"].to_list()
        W, Q = map(np.stack, zip(*(window_hashes(p) for p in paths)))
        t_hash = time.perf_counter() - t0 - t_build - t_scan
    n = len(paths)
    index = {p: k for k, p in enumerate(paths)}
    g = np.array([group[p] for p in paths], dtype=np.int64)
    amb = np.array(sorted(a * (g.max() + 1) + b for a, b in dq.overlapping_originals(table)), dtype=np.int64)
    truth = [t for t in truth if t[0] in index and t[1] in index]
    a = np.array([index[o] for o, _, _ in truth], dtype=np.int64)
    b = np.array([index[c] for _, c, _ in truth], dtype=np.int64)
    print(
        f"build {t_build:.1f}s, scan {t_scan:.1f}s, 81 window hashes of {n} images {t_hash:.1f}s "
        f"({1000 * t_hash / n:.1f} ms/image)"
    )
    return dict(
        W=W,
        Q=Q,
        scan_phash=df["phash"].to_numpy().astype(np.uint64),
        g=g,
        amb=amb,
        gt_keys=np.minimum(a, b) * n + np.maximum(a, b),
        gt_tf=np.array([t for _, _, t in truth]),
    )


def main(n_orig: int, n_varied: int, n_exact: int, cache: str | None) -> None:
    t0 = time.perf_counter()
    if cache and Path(cache).exists():
        data = dict(np.load(cache))
    else:
        data = build(n_orig, n_varied, n_exact)
        if cache:
            np.savez(cache, **data)
    W, Q, g, amb, gt_keys, gt_tf = (data[k] for k in ("W", "Q", "g", "amb", "gt_keys", "gt_tf"))
    n, full = len(W), np.ascontiguousarray(W[:, 0])
    tfs = list(dict.fromkeys(gt_tf))
    base = [t for t in tfs if t not in dq.OPT_IN and t not in ASYM]
    counts = {t: int((gt_tf == t).sum()) for t in tfs}
    mask = np.isin(gt_tf, base)
    ends, in_asym = np.stack([gt_keys // n, gt_keys % n]), np.isin(gt_tf, list(ASYM))
    asym_file = np.zeros(n, dtype=bool)
    asym_file[ends[:, in_asym].ravel()] = True
    asym_file[ends[:, ~in_asym].ravel()] = False  # originals of asym copies
    d_scan = np.bitwise_count(full ^ data["scan_phash"])
    print(
        f"\n{n} images ({asym_file.sum()} asym crops), {len(gt_keys)} copies, {len(amb)} overlapping pairs of "
        f"originals left out. Full-window pHash vs scan's phash: equal {np.mean(d_scan == 0):.3f}, <= 2 bits "
        f"{np.mean(d_scan <= 2):.3f}, max {d_scan.max()}\n"
    )

    def score(keys):
        i, j = keys // n, keys % n
        p, rec, per, fp = dq.evaluate(i, j, g, gt_keys, mask, gt_tf, n, amb)
        keep = ~(asym_file[i] | asym_file[j])
        p_bench, _, _, fp_bench = dq.evaluate(i[keep], j[keep], g, gt_keys, mask, gt_tf, n, amb)
        asym = sum(per[t] * counts[t] for t in ASYM) / sum(counts[t] for t in ASYM)
        both = sum(per[t] * counts[t] for t in base + list(ASYM)) / sum(counts[t] for t in base + list(ASYM))
        return dict(
            p=p, p_bench=p_bench, rec=rec, per=per, fp=fp, fp_bench=fp_bench, asym=asym, both=both, pairs=len(keys)
        )

    line = []
    for r in (2, 4, 10):
        i, j, _ = (np.asarray(x) for x in _core.hamming_pairs(data["scan_phash"], r))
        s = score(i.astype(np.int64) * n + j)
        line.append(
            f"r={r}: precision {s['p_bench']:.4f} (with asym files {s['p']:.4f}), recall {s['rec']:.3f}, "
            f"crop_5% {s['per']['crop_5%']:.3f}"
        )
    print("Baseline, scan's phash alone: " + "; ".join(line))

    def q_dist(a, ka, b, kb):  # 256-bit distance between window ka of images a and window kb of images b
        return np.bitwise_count(Q[a, ka] ^ Q[b, kb]).sum(axis=1)

    def q_all(keys):  # min over the 81 windows of either image of the 256-bit distance to the other's full
        a, b = keys // n, keys % n
        return np.min([np.minimum(q_dist(a, 0, b, k), q_dist(b, 0, a, k)) for k in range(len(RANGES) ** 2)], axis=0)

    ts = time.perf_counter()
    ff_i, ff_j, ff_d = (np.asarray(x) for x in _core.hamming_pairs(full, max(R1S + tuple(r for r, _ in CONF_R))))
    print(
        f"\nSearch cost (64-bit, exact): full vs full r<={ff_d.max()}: {len(ff_d)} links, {time.perf_counter() - ts:.2f}s"
    )
    ff_key, ff_q = ff_i.astype(np.int64) * n + ff_j, q_dist(ff_i, 0, ff_j, 0)  # hamming_pairs gives i < j
    rows, t_match, r2max = [], time.perf_counter(), max(R2S + tuple(r for _, r in CONF_R))
    for name, wins in WINDOW_SETS.items():
        idx, ts = np.array(wins or [0]), time.perf_counter()
        qi, wi, wd = (
            np.asarray(x) for x in _core.hamming_pairs_across(full, np.ascontiguousarray(W[:, idx]).ravel(), r2max)
        )
        if wins:
            print(
                f"- {name}: full vs {len(idx)} windows per image ({n * len(idx)} hashes) r<={r2max}: {len(wd)} links, "
                f"{time.perf_counter() - ts:.2f}s"
            )
        oj, k = wi // len(idx), idx[wi % len(idx)]
        keep = (qi != oj) & (len(wins) > 0)
        qi, oj, k, wd = qi[keep], oj[keep], k[keep], wd[keep]
        fw_key, fw_q = np.minimum(qi, oj).astype(np.int64) * n + np.maximum(qi, oj), q_dist(qi, 0, oj, k)
        for r1, r2 in [(r1, r2) for r1 in R1S for r2 in (R2S if wins else (0,))]:
            cand = np.union1d(ff_key[ff_d <= r1], fw_key[wd <= r2])
            rows.append((name, len(wins) + 1, r1, r2 if wins else "-", "-", "-", score(cand) | {"cand": len(cand)}))
        for r1, r2 in CONF_R:
            cand = np.union1d(ff_key[ff_d <= r1], fw_key[wd <= r2])
            conf_all = q_all(cand)
            for r3 in R3S:
                keys = np.union1d(ff_key[(ff_d <= r1) & (ff_q <= r3)], fw_key[(wd <= r2) & (fw_q <= r3)])
                for conf, acc in (("matched", keys), ("all 81", cand[conf_all <= r3])):
                    rows.append(
                        (name, len(wins) + 1, r1, r2 if wins else "-", conf, r3, score(acc) | {"cand": len(cand)})
                    )
    t_match = time.perf_counter() - t_match

    head = (
        "| windows | hashes | r1 | r2 | 256-bit check | R3 | precision | FP | precision with asym files | recall "
        "(12 tf, no hflip) | crop_2% | crop_5% | crop_asym | crop_corner_5% | crop_side_5% | recall incl. asym "
        "| accepted pairs | candidate pairs |\n" + "|---" * 18 + "|"
    )
    for title, confirmed in (
        ("(a) 64-bit windows alone: per window set and (r1 full-full, r2 full-window)", False),
        (
            "(b) 64-bit candidates confirmed by the 256-bit pHash (16x16 DCT) within R3: of the "
            "matched pair ('matched') or the closest of all 81 windows either way ('all 81')",
            True,
        ),
    ):
        print(f"\n### {title}\n\n{head}")
        for name, m, r1, r2, conf, r3, s in rows:
            pr = s["per"]
            if (conf != "-") == confirmed:
                print(
                    f"| {name} | {m} | {r1} | {r2} | {conf} | {r3} | {s['p_bench']:.4f} | {s['fp_bench']} | {s['p']:.4f} | "
                    f"{s['rec']:.3f} | {pr['crop_2%']:.3f} | {pr['crop_5%']:.3f} | {pr['crop_asym']:.3f} | "
                    f"{pr['crop_corner_5%']:.3f} | {pr['crop_side_5%']:.3f} | {s['both']:.3f} | {s['pairs']} | {s['cand']} |"
                )

    best = {}
    for name, _m, r1, r2, conf, r3, s in rows:
        if min(s["p"], s["p_bench"]) >= MIN_PRECISION and (
            (name, conf) not in best or s["both"] > best[name, conf][-1]["both"]
        ):
            best[name, conf] = (name, r1, r2, conf, r3, s)
    cols = list(best.values())
    print(
        f"\n### (c) Recall per transform, best row per window set and check with precision >= {MIN_PRECISION} "
        "(with and without the asym files; highest recall incl. asym crops)\n"
    )
    print("| transform | " + " | ".join(f"{nm} r1={r1} r2={r2} {c} R3={r3}" for nm, r1, r2, c, r3, _ in cols) + " |")
    print("|---" * (1 + len(cols)) + "|")
    for t in tfs:
        label = f"{t} (opt-in)" if t in dq.OPT_IN else f"{t} (asym, extra)" if t in ASYM else t
        print(f"| {label} | " + " | ".join(f"{c[-1]['per'][t]:.3f}" for c in cols) + " |")
    for key, label in (
        ("rec", "**recall, 12 transforms but hflip**"),
        ("asym", "recall, asym crops"),
        ("both", "recall, incl. asym"),
        ("p_bench", "precision"),
        ("p", "precision with asym files"),
        ("fp_bench", "false pairs"),
        ("pairs", "accepted pairs"),
        ("cand", "candidate pairs"),
    ):
        fmt = (
            (lambda v: f"{v:.4f}")
            if key in ("p", "p_bench")
            else (lambda v: f"{v:.3f}" if isinstance(v, float) else str(v))
        )
        print(f"| {label} | " + " | ".join(fmt(c[-1][key]) for c in cols) + " |")
    print(f"\nmatching + scoring {t_match:.1f}s, total {time.perf_counter() - t0:.1f}s")


if __name__ == "__main__":
    args = sys.argv[1:]
    cache = None
    if "--cache" in args:
        k = args.index("--cache")
        cache = args[k + 1]
        del args[k : k + 2]
    main(*[int(x) for x in args[:3]] + [400, 150, 30][len(args[:3]) :], cache=cache)
