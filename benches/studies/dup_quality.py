"""Near-duplicate detection quality of scan's ahash/dhash/phash, with ground truth from real photos.

    python -m benches.studies.dup_quality [N_ORIGINALS] [N_VARIED] [N_EXACT]   # defaults 400 150 30

Builds a corpus in a temp dir: N_ORIGINALS distinct crops of real photos (make_photo_corpus, seed 5),
one near copy per transform of N_VARIED of them, and byte-exact copies of N_EXACT of them. Everything
is scanned with recipe_audit.scan and all pairs within a radius are found with _core.hamming_pairs.

A predicted pair is a true positive when both files descend from the same original (copy-original or
copy-copy); any other pair is a false positive, including pairs of different crops of one source
photograph, unless the two originals overlap with IoU >= 0.8 (as alike as a 5%-per-side crop, IoU
0.81): such pairs are near copies of each other by construction and are left out of precision. Recall is per (original, copy) pair, found
directly (no transitive closure). Horizontal flip is an opt-in match: its links count as true
positives but it is left out of the overall recall and reported on its own.

Prints markdown tables: (a) precision and overall recall per hash and radius; (b) recall per
transform at each hash's best radius (highest recall with precision >= 0.99, smallest such radius);
(c) phash candidates within R1 confirmed by dhash within R2; (d) phash with flips=True (links to
each file's mirror-image pHash, the scan's phash_mirror column); (e) where false pairs come from;
(f) find_duplicates(crops=True)'s pairs (window pHashes, confirmed by the 256-bit pHash).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

import recipe_audit
from recipe_audit import _core, examples

SEED = 5
HASHES = ("ahash", "dhash", "phash")
MAX_R = 16
COMBO_R1 = (10, 12, 14, 16, 18, 20)
COMBO_R2 = (8, 10, 12, 14)
MIN_PRECISION = 0.99
AMBIGUOUS_IOU = 0.8


def _resize(im: Image.Image, f: float) -> Image.Image:
    f = min(f, 1600 / max(im.size))
    return im.resize((max(1, round(im.width * f)), max(1, round(im.height * f))), Image.LANCZOS)


def _crop(im: Image.Image, share: float) -> Image.Image:
    dx, dy = int(im.width * share), int(im.height * share)
    return im.crop((dx, dy, im.width - dx, im.height - dy))


# name -> (image transform, output format or None to keep the original's format, JPEG quality)
TRANSFORMS = {
    "resize_0.5x": (lambda im: _resize(im, 0.5), None, 90),
    "resize_2x": (lambda im: _resize(im, 2.0), None, 90),
    "jpeg_q50": (lambda im: im, "JPEG", 50),
    "jpeg_q95": (lambda im: im, "JPEG", 95),
    "png_jpeg_swap": (lambda im: im, "swap", 90),
    "crop_2%": (lambda im: _crop(im, 0.02), None, 90),
    "crop_5%": (lambda im: _crop(im, 0.05), None, 90),
    "bright_+10%": (lambda im: ImageEnhance.Brightness(im).enhance(1.1), None, 90),
    "bright_-10%": (lambda im: ImageEnhance.Brightness(im).enhance(0.9), None, 90),
    "contrast_+10%": (lambda im: ImageEnhance.Contrast(im).enhance(1.1), None, 90),
    "blur_r1": (lambda im: im.filter(ImageFilter.GaussianBlur(1)), None, 90),
    "hflip": (lambda im: im.transpose(Image.FLIP_LEFT_RIGHT), None, 90),
}
OPT_IN = {"hflip"}


def build_corpus(root: Path, n_orig: int, n_varied: int, n_exact: int):
    """Write the corpus; return (group of each path, ground truth [(original, copy, transform)],
    the originals' table with source photo and crop box)."""
    table = examples.make_photo_corpus_table(root / "orig", n_orig, seed=SEED)
    originals = [Path(p) for p in table["path"]]
    out = root / "copies"
    out.mkdir()
    rng = np.random.default_rng(SEED)
    group = {str(p): k for k, p in enumerate(originals)}
    truth = []
    for k in sorted(rng.choice(n_orig, size=min(n_varied, n_orig), replace=False)):
        src = originals[k]
        with Image.open(src) as im:
            im.load()
            base = im.convert("L" if im.mode in ("L", "I;16") else "RGB")
        is_png = src.suffix.lower() == ".png"
        for name, (fn, fmt, q) in TRANSFORMS.items():
            if fmt == "swap":
                fmt = "JPEG" if is_png else "PNG"
            fmt = fmt or ("PNG" if is_png else "JPEG")
            dest = out / f"{src.stem}__{name.replace('%', 'pct')}.{'png' if fmt == 'PNG' else 'jpg'}"
            fn(base).save(dest, fmt, **({"quality": q} if fmt == "JPEG" else {}))
            group[str(dest)] = k
            truth.append((str(src), str(dest), name))
    for k in sorted(rng.choice(n_orig, size=min(n_exact, n_orig), replace=False)):
        dest = out / f"{originals[k].stem}__exact{originals[k].suffix}"
        shutil.copyfile(originals[k], dest)
        group[str(dest)] = k
        truth.append((str(originals[k]), str(dest), "exact_copy"))
    return group, truth, table


def overlapping_originals(table) -> set[tuple[int, int]]:
    """Pairs of originals cropped from one photo with IoU >= AMBIGUOUS_IOU: as alike as a 5%-per-side
    crop (IoU 0.81), so a match between them (or their copies) is neither right nor wrong."""
    boxes = table.select("source", "top", "left", "bottom", "right").rows()
    out = set()
    for a, (src_a, *box_a) in enumerate(boxes):
        for b in range(a + 1, len(boxes)):
            src_b, *box_b = boxes[b]
            if src_a == src_b and examples._iou(tuple(box_a), tuple(box_b)) >= AMBIGUOUS_IOU:
                out.add((a, b))
    return out


def popcount(x: np.ndarray) -> np.ndarray:
    return np.bitwise_count(x).astype(np.int64)


def evaluate(i, j, g, gt_keys, gt_mask_main, gt_tf, n, ambiguous_keys=None):
    """Precision, overall recall (no opt-in), recall per transform for predicted pairs (i, j).

    Pairs between groups whose originals overlap (``ambiguous_keys``: min(g) * G + max(g)) count
    neither as true nor as false positives."""
    if ambiguous_keys is not None and len(i):
        gi, gj = np.minimum(g[i], g[j]), np.maximum(g[i], g[j])
        keep = ~np.isin(gi * (g.max() + 1) + gj, ambiguous_keys)
        i, j = i[keep], j[keep]
    tp = int(np.sum(g[i] == g[j]))
    precision = tp / len(i) if len(i) else 1.0
    found = np.isin(gt_keys, np.minimum(i, j).astype(np.int64) * n + np.maximum(i, j))
    per_tf = {t: float(found[gt_tf == t].mean()) for t in dict.fromkeys(gt_tf)}
    return precision, float(found[gt_mask_main].mean()), per_tf, len(i) - tp


def main(n_orig: int = 400, n_varied: int = 150, n_exact: int = 30) -> None:
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        group, truth, table = build_corpus(Path(tmp), n_orig, n_varied, n_exact)
        t_build = time.perf_counter() - t0
        df = recipe_audit.scan(tmp, progress=False)
        t_scan = time.perf_counter() - t0 - t_build
    bad = df.filter(df["status"] != "ok").height
    df = df.filter(df["status"] == "ok")
    paths = df["path"].to_list()
    n = len(paths)
    index = {p: k for k, p in enumerate(paths)}
    g = np.array([group[p] for p in paths], dtype=np.int64)
    overlapping = overlapping_originals(table)
    ambiguous = np.array(sorted(a * (g.max() + 1) + b for a, b in overlapping), dtype=np.int64)
    truth = [t for t in truth if t[0] in index and t[1] in index]
    a = np.array([index[o] for o, _, _ in truth], dtype=np.int64)
    b = np.array([index[c] for _, c, _ in truth], dtype=np.int64)
    gt_keys = np.minimum(a, b) * n + np.maximum(a, b)
    gt_tf = np.array([t for _, _, t in truth])
    main_mask = ~np.isin(gt_tf, list(OPT_IN))
    hashes = {h: df[h].to_numpy().astype(np.uint64) for h in HASHES}
    if os.environ.get("RA_HASHES_OUT"):  # real pHashes for examples/neardup_bench.rs --data photos
        hashes["phash"].astype("<u8").tofile(os.environ["RA_HASHES_OUT"])
    pairs = {h: tuple(np.asarray(x) for x in _core.hamming_pairs(hashes[h], MAX_R)) for h in HASHES}
    combo = tuple(np.asarray(x) for x in _core.hamming_pairs(hashes["phash"], max(COMBO_R1)))

    print(
        f"\n{n} images scanned ({bad} not ok): {n_orig} originals, {len(truth)} copies; "
        f"build {t_build:.1f}s, scan {t_scan:.1f}s; {len(overlapping)} pairs of originals overlap "
        f"with IoU >= {AMBIGUOUS_IOU} (their matches are left out of precision)\n"
    )
    print("### (a) Precision / overall recall (excluding hflip) per hash and radius\n")
    print("| radius | " + " | ".join(f"{h} P | {h} R | {h} FP" for h in HASHES) + " |")
    print("|---" * (1 + 3 * len(HASHES)) + "|")
    results = {h: {} for h in HASHES}
    for r in range(MAX_R + 1):
        cells = []
        for h in HASHES:
            i, j, d = pairs[h]
            keep = d <= r
            res = evaluate(i[keep], j[keep], g, gt_keys, main_mask, gt_tf, n, ambiguous)
            results[h][r] = res
            cells.append(f"{res[0]:.4f} | {res[1]:.3f} | {res[3]}")
        print(f"| {r} | " + " | ".join(cells) + " |")

    best = {}
    for h in HASHES:
        ok = [r for r in range(MAX_R + 1) if results[h][r][0] >= MIN_PRECISION]
        best[h] = max(ok, key=lambda r: (results[h][r][1], -r)) if ok else 0
    tfs = list(dict.fromkeys(gt_tf))
    print(f"\n### (b) Recall per transform at each hash's best radius (precision >= {MIN_PRECISION})\n")
    default = recipe_audit.dedup.rule.DEFAULT_MAX_DISTANCE["phash"]
    columns = [(h, best[h]) for h in HASHES] + [("phash", default)]
    print("| transform | " + " | ".join(f"{h} (r={r})" for h, r in columns[:-1]) + f" | phash default (r={default}) |")
    print("|---" * (1 + len(columns)) + "|")
    for t in tfs:
        label = f"{t} (opt-in)" if t in OPT_IN else t
        print(f"| {label} | " + " | ".join(f"{results[h][r][2][t]:.3f}" for h, r in columns) + " |")
    print("| **overall (no hflip)** | " + " | ".join(f"**{results[h][r][1]:.3f}**" for h, r in columns) + " |")
    print("| precision | " + " | ".join(f"{results[h][r][0]:.4f}" for h, r in columns) + " |")

    print("\n### (c) phash within R1, confirmed by dhash within R2\n")
    print("| R1 | R2 | precision | FP | recall (no hflip) | crop_2% | crop_5% | worst transform |")
    print("|---|---|---|---|---|---|---|---|")
    i, j, d = combo
    dd = popcount(hashes["dhash"][i] ^ hashes["dhash"][j])
    for r1 in COMBO_R1:
        for r2 in COMBO_R2:
            keep = (d <= r1) & (dd <= r2)
            p, rec, per, fp = evaluate(i[keep], j[keep], g, gt_keys, main_mask, gt_tf, n, ambiguous)
            worst = min((t for t in tfs if t not in OPT_IN), key=lambda t: per[t])
            print(
                f"| {r1} | {r2} | {p:.4f} | {fp} | {rec:.3f} | {per['crop_2%']:.3f} | "
                f"{per['crop_5%']:.3f} | {worst} {per[worst]:.3f} |"
            )
    print("\n### (d) phash with flips=True: direct links plus links to each file's mirror image\n")
    print("| radius | precision | FP | recall (no hflip) | hflip recall |")
    print("|---|---|---|---|---|")
    mi, mj, md = (
        np.asarray(x) for x in _core.hamming_pairs_across(hashes["phash"], df["phash_mirror"].to_numpy(), MAX_R)
    )
    i, j, d = pairs["phash"]
    for r in (6, 8, 10, 12):
        keep, mkeep = d <= r, (md <= r) & (mi != mj)
        fi = np.concatenate([i[keep], np.minimum(mi, mj)[mkeep]])
        fj = np.concatenate([j[keep], np.maximum(mi, mj)[mkeep]])
        unique = np.unique(fi.astype(np.int64) * n + fj)
        p, rec, per, fp = evaluate(unique // n, unique % n, g, gt_keys, main_mask, gt_tf, n, ambiguous)
        print(f"| {r} | {p:.4f} | {fp} | {rec:.3f} | {per['hflip']:.3f} |")
    print("\n### (e) Where pHash's false pairs come from\n")
    print("| radius | false pairs | both from one source photo | of which IoU < 0.5 | unrelated photos |")
    print("|---|---|---|---|---|")
    source = table["source"].to_numpy()
    boxes = table.select("top", "left", "bottom", "right").rows()
    i, j, d = pairs["phash"]
    for r in (4, 6, 8, 10):
        keep = d <= r
        gi, gj = g[i[keep]], g[j[keep]]
        lo, hi = np.minimum(gi, gj), np.maximum(gi, gj)
        false = (lo != hi) & ~np.isin(lo * (g.max() + 1) + hi, ambiguous)
        lo, hi = lo[false], hi[false]
        same = source[lo] == source[hi]
        low_iou = sum(examples._iou(boxes[a], boxes[b]) < 0.5 for a, b in zip(lo[same], hi[same]))
        print(f"| {r} | {len(lo)} | {int(same.sum())} | {low_iou} | {int((~same).sum())} |")
    print("\n### (f) find_duplicates(files): the default window rule (recipe_audit.dedup.thumbmatch)\n")
    tm = recipe_audit.dedup.thumbmatch
    pairs = tm.matched_pairs(tm.thumbnails(df), tm.shapes(df), signs=tm.sign_maps(df))
    ci, cj = pairs["a"].to_numpy().astype(np.int64), pairs["b"].to_numpy().astype(np.int64)
    unique = np.unique(np.minimum(ci, cj) * n + np.maximum(ci, cj))
    p, rec, per, fp = evaluate(unique // n, unique % n, g, gt_keys, main_mask, gt_tf, n, ambiguous)
    worst = min((t for t in tfs if t not in OPT_IN), key=lambda t: per[t])
    print("| precision | FP | recall (no hflip) | crop_2% | crop_5% | worst transform |")
    print("|---|---|---|---|---|---|")
    print(f"| {p:.4f} | {fp} | {rec:.3f} | {per['crop_2%']:.3f} | {per['crop_5%']:.3f} | {worst} {per[worst]:.3f} |")
    print(f"\ntotal {time.perf_counter() - t0:.1f}s")


if __name__ == "__main__":
    main(*(int(x) for x in sys.argv[1:4]))
