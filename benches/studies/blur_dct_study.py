"""A blur measure from the 8x8 block DCT of the luma, studied against the scan's
``sharpness <= 0.02`` rule (the ``blurry`` flag of `find_outliers`), held out.

    PYTHONPATH=python python -m benches.studies.blur_dct_study [--cache /tmp/blurstudy]

Why: ``sharpness`` is measured on the small decoded picture (JPEGs at DCT scale 1/8-1/2, shorter
side >= 64), where a Gaussian blur of 1% of the long side is about one decoded pixel. The JPEG's own
coefficients (8x8 blocks at full resolution; the decoder entropy-decodes them anyway) still hold
the high frequencies. Here they are computed with ``scipy.fft.dctn`` on 8x8 blocks of the decoded
luma on the JPEG block grid and re-quantized with the file's luma table (this gives back the
dequantized coefficients up to rounding); PNG and WebP files get the plain DCT of their luma.

The measure (`dct_sharpness`; constants below, chosen on the tuning half of seed 1 only):

1. Scale. The luma is reduced k = 1, 2 or 4 times, the largest k that keeps the long side >=
   TARGET (192): the full-resolution JPEG coefficients for long sides < 384, libjpeg's 1/2 or 1/4
   scaled IDCT (an area average for PNG / WebP) above, then 8x8 blocks. A blur of 1% of the long
   side is then >= 1.9 px wherever it is measured, and a photo's own softness at full resolution
   (a few px on an 800 px picture) shrinks by k.
2. Edge blocks: blocks whose first-harmonic amplitude ``A = sqrt(F(0,1)^2 + F(1,0)^2)`` (a step of
   h levels across a block gives A ~ 3.6 h) is >= EDGE_AMP (16) and >= EDGE_REL (0.25) x the 99th
   percentile of A over the blocks with A >= 16.
3. Crisp blocks: a block is crisp when the energy left after its least-squares fit by a tensor
   quadratic (a + b x + c x^2)(d + e y + f y^2) is >= CRISP_RATIO (0.08) x its AC energy. From the
   coefficients: ``R = |C|^2 - |B' C B|^2`` with B the 8 x 3 orthonormal quadratic basis in DCT
   coordinates (constant = u 0 only, linear = odd u, quadratic = even u). A Gaussian-blurred step or
   line seen through 8 px is nearly a quadratic (R / AC ~0.005 at sigma 2 px); a crisp step is not
   (R / AC ~0.1-0.3). Unlike band ratios (u + v >= 3 over u + v = 1), the fit is not fooled by the
   block's edges: a ramp's DCT leaks into u = 3, 5, 7 (0.10, 0.03, 0.008 of u = 1), a blurred line
   into u = 2, 4.
4. ``dct_sharpness`` = the share of edge blocks that are crisp; null (too few edges to judge) with
   fewer than MIN_BLOCKS (8) edge blocks. ``blurry`` when dct_sharpness <= SHARP_MAX (0.05), with
   `find_outliers`' guards (shorter side >= 64, luma std > 2.5).

Also reported: a conservative operating point fixed with it on the tuning half (CRISP_RATIO 0.05,
SHARP_MAX 0.02), and, for the record, the alternatives tried (``Params.crisp``: ``band``, the
leakage-corrected ratio of u + v >= 3 to u + v = 1; ``cubic``).

Data (`benches/studies/outlier_corpus.py`): the cached builds /tmp/oh1 (seed 1) and /tmp/oh7
(seed 7) of `outlier_heldout` when present (built here otherwise), a blur curve of the *tuning*
half of seed 1 built here for tuning (``build_blur_curve(seed=2, half="tuning")``), and the held-out
curve of seed 7 (``build_blur_curve(seed=8)``, /tmp/oh7/blur). The current rule is the ``blurry``
column of `find_outliers` on `recipe_audit.scan` of the same files. Prints the tuning-half figures,
then the held-out half of seed 7, the DCT measure beside the current rule.
"""

from __future__ import annotations

import argparse
import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from PIL import Image
from scipy.fft import dctn

# --- the measure's constants (chosen on the tuning half of seed 1) ---------------------------
TARGET = 192  # the luma is reduced 2x or 4x while its long side stays >= this
EDGE_AMP = 16.0  # edge block: first-harmonic amplitude A >= this (a step of ~4.5 levels) ...
EDGE_REL = 0.25  # ... and >= this share of the p99 of A over the blocks with A >= 16
CRISP_RATIO = 0.08  # a block is crisp when its residual after the quadratic fit >= this x AC energy
MIN_BLOCKS = 8  # fewer edge blocks: null (too few edges to judge)
SHARP_MAX = 0.05  # blurry when at most this share of the edge blocks is crisp
CONSERVATIVE = (0.05, 0.02)  # (CRISP_RATIO, SHARP_MAX) of the conservative operating point
MIN_SIDE = 64  # as find_outliers' blur_min_side
FLAT_STD = 2.5  # as find_outliers' flat_std

# Band index s = u + v of each coefficient of an 8x8 block.
_S = np.add.outer(np.arange(8), np.arange(8))
_STORE_FLOOR = 16.0  # blocks with sqrt(E1) below this are not kept (flat; never edge blocks)


# --- per-block coefficients -------------------------------------------------------------------
def luma_and_table(path: str, k: int = 1) -> tuple[np.ndarray, np.ndarray | None, str]:
    """The luma reduced ``k`` times (1, 2, 4) and the JPEG luma quantization table in natural order
    (None for other formats, and at k > 1). JPEGs: the decoder's own Y plane (no colour round
    trip), at k > 1 from libjpeg's scaled IDCT (as the scan's decoder reduces); other formats:
    the luma averaged over k x k squares."""
    im = Image.open(path)
    fmt = im.format or "?"
    if fmt == "JPEG":
        table = np.asarray(im.quantization[0], dtype=np.float64).reshape(8, 8)
        if im.mode not in ("L", "1"):
            im.draft("YCbCr", (im.width // k, im.height // k))
            y = np.asarray(im)[..., 0] if im.mode == "YCbCr" else np.asarray(im.convert("L"))
        else:
            im.draft("L", (im.width // k, im.height // k))
            y = np.asarray(im.convert("L"))
        return y, (table if k == 1 else None), fmt
    y = np.asarray(im.convert("L"))
    if k > 1:
        h, w = (y.shape[0] // k) * k, (y.shape[1] // k) * k
        y = np.round(y[:h, :w].reshape(h // k, k, w // k, k).astype(np.float64).mean(axis=(1, 3))).astype(np.uint8)
    return y, None, fmt


def block_coefficients(y: np.ndarray, table: np.ndarray | None) -> np.ndarray:
    """(blocks, 8, 8) orthonormal DCT-II of the whole 8x8 blocks (JPEG's FDCT), re-quantized with
    ``table`` when given; partial blocks at the right and bottom edges are left out."""
    h, w = (y.shape[0] // 8) * 8, (y.shape[1] // 8) * 8
    blocks = y[:h, :w].astype(np.float64).reshape(h // 8, 8, w // 8, 8).transpose(0, 2, 1, 3) - 128.0
    coef = dctn(blocks, type=2, axes=(2, 3), norm="ortho")
    if table is not None:
        coef = np.round(coef / table) * table
    return coef.reshape(-1, 8, 8)


# The DCT of a linear ramp is not confined to the first harmonic: the block's implicit even
# extension folds it into a triangle wave, so a pure gradient leaks into u = 3, 5, 7 with
# amplitudes k_u x its u = 1 coefficient (0.1045, 0.0312, 0.0079). A blurred edge is locally such a
# ramp; the leakage is predicted from F(0,1) / F(1,0) (quantized with the same step) and removed.
_RAMP = dctn(np.arange(8.0) - 3.5, type=2, norm="ortho")
RAMP_LEAK = _RAMP / _RAMP[1]  # [0, 1, 0, 0.1045, 0, 0.0312, 0, 0.0079]


def _poly_basis(degree: int) -> np.ndarray:
    """(8, degree + 1) orthonormal basis, in DCT coordinates, of the polynomials of at most
    ``degree`` sampled on 8 pixels: smooth profiles (a blurred edge or line seen through 8 px)."""
    v = np.vander(np.arange(8.0) - 3.5, degree + 1, increasing=True)
    q, _ = np.linalg.qr(v)
    return dctn(q, type=2, axes=(0,), norm="ortho")


POLY3 = _poly_basis(3)
POLY2 = _poly_basis(2)


def poly_residual(coef: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Energy of each block left after its least-squares fit by (polynomial in x) x (polynomial in
    y) of the basis' degree, from the DCT coefficients: |C|^2 - |B' C B|^2 (B: 8 x (d + 1))."""
    m = np.einsum("ui,buv,vj->bij", basis, coef, basis, optimize=True)
    return np.maximum((coef**2).sum(axis=(1, 2)) - (m**2).sum(axis=(1, 2)), 0.0)


def block_bands(coef: np.ndarray) -> np.ndarray:
    """(blocks, 26) float32: energy of the AC coefficients in bands s = u + v = 1 .. 8 and
    s >= 9, the signed axis coefficients F(0, 1..7) and F(1..7, 0), then the AC energy and the
    residual energies after the tensor cubic and quadratic fits (`poly_residual`)."""
    e = coef**2
    out = np.empty((coef.shape[0], 26), dtype=np.float32)
    for s in range(1, 9):
        out[:, s - 1] = e[:, _S == s].sum(axis=1)
    out[:, 8] = e[:, _S >= 9].sum(axis=1)
    out[:, 9:16] = coef[:, 0, 1:]
    out[:, 16:23] = coef[:, 1:, 0]
    out[:, 23] = e.sum(axis=(1, 2)) - e[:, 0, 0]
    out[:, 24] = poly_residual(coef, POLY3)
    out[:, 25] = poly_residual(coef, POLY2)
    return out


def high_energy(
    bands: np.ndarray, axis_q: np.ndarray, hi_from: int, leak: bool = True, dead: float = 0.5
) -> np.ndarray:
    """Energy of the bands s >= ``hi_from`` with the ramp leakage of F(0,1) and F(1,0) into the
    odd axis coefficients taken out (``axis_q``: the quantization steps of F(0, 1..7) and
    F(1..7, 0), ones for PNG / WebP)."""
    hi = bands[:, hi_from - 1 : 9].sum(axis=1).astype(np.float64)
    if not leak:
        return hi
    for first, q0 in ((9, 0), (16, 7)):
        c1 = bands[:, first].astype(np.float64)
        for u in (3, 5, 7):
            if u < hi_from:
                continue
            q = axis_q[q0 + u - 1]
            c = bands[:, first + u - 1].astype(np.float64)
            # The encoder rounded the true coefficient to a multiple of q: a residual within
            # half a step of the prediction is no evidence of anything beyond the ramp.
            rest = np.maximum(np.abs(c - RAMP_LEAK[u] * c1) - dead * q, 0.0)
            hi += rest**2 - c**2
    return np.maximum(hi, 0.0)


@dataclass
class Level:
    """The blocks of the luma reduced k times."""

    width: int
    height: int
    blocks: int  # whole 8x8 blocks
    axis_q: np.ndarray  # quantization steps of F(0, 1..7), F(1..7, 0) (ones without a JPEG table)
    bands: np.ndarray  # (kept blocks, 23) of `block_bands`: blocks with sqrt(E1) >= _STORE_FLOOR


@dataclass
class Picture:
    path: str
    fmt: str
    width: int
    height: int
    levels: dict[int, Level]  # k = 1, 2, 4 (while the reduced long side is >= 64)
    dc: np.ndarray  # the DC map of the full-resolution blocks: block means (levels), float32


def picture_features(path: str) -> Picture:
    levels: dict[int, Level] = {}
    fmt, size = "?", (0, 0)
    for k in (1, 2, 4):
        y, table, fmt = luma_and_table(path, k)
        if k == 1:
            size = (y.shape[1], y.shape[0])
            dc = None
        elif max(y.shape) < 64:
            break
        coef = block_coefficients(y, table)
        if k == 1:
            dc = (coef[:, 0, 0] / 8 + 128).astype(np.float32).reshape(y.shape[0] // 8, y.shape[1] // 8)
        bands = block_bands(coef)
        keep = bands[:, 0] >= _STORE_FLOOR**2
        axis_q = np.ones(14) if table is None else np.concatenate([table[0, 1:], table[1:, 0]])
        levels[k] = Level(y.shape[1], y.shape[0], coef.shape[0], axis_q, bands[keep])
    return Picture(path, fmt, size[0], size[1], levels, dc)


# --- the measure ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Params:
    edge_amp: float = EDGE_AMP
    edge_rel: float = EDGE_REL
    crisp_ratio: float = CRISP_RATIO
    min_blocks: int = MIN_BLOCKS
    hi_from: int = 3  # Ehi = bands s >= hi_from
    leak: bool = True  # take the ramp leakage out of Ehi
    dead: float = 0.5  # ... up to this many quantization steps
    crisp: str = "quad"  # quad / cubic: residual after the polynomial fit; band: Ehi / E1
    norm: str = "ac"  # the residual over the AC energy (ac) or over E1 (e1)
    target: int = TARGET  # measure on the luma reduced 1, 2 or 4 times, long side >= target


def crisp_blocks(b: np.ndarray, axis_q: np.ndarray, prm: Params) -> np.ndarray:
    """Which of the blocks (rows of `block_bands`) hold a crisp edge."""
    if prm.crisp == "band":
        return high_energy(b, axis_q, prm.hi_from, prm.leak, prm.dead) >= prm.crisp_ratio * b[:, 0]
    col = {"cubic": 24, "quad": 25}[prm.crisp]
    return b[:, col] >= prm.crisp_ratio * b[:, 23 if prm.norm == "ac" else 0]


def reduction(long_side: int, target: int) -> int:
    """The reduction k (1, 2, 4) that keeps the long side >= ``target`` (1 when it is below)."""
    k = 1
    while k < 4 and long_side // (2 * k) >= target:
        k *= 2
    return k


def dct_sharpness(p: Picture, prm: Params = Params()) -> tuple[float | None, int]:
    """(share of edge blocks that are crisp or None, number of edge blocks)."""
    k = reduction(max(p.width, p.height), prm.target)
    lv = p.levels[min(k, max(p.levels))]
    b = lv.bands
    if b.shape[0] == 0:
        return None, 0
    amp = np.sqrt(b[:, 0])
    ref = float(np.percentile(amp, 99))
    edge = (amp >= prm.edge_amp) & (amp >= prm.edge_rel * ref)
    n = int(edge.sum())
    if n < prm.min_blocks:
        return None, n
    return float(np.mean(crisp_blocks(b[edge], lv.axis_q, prm))), n


# --- data -------------------------------------------------------------------------------------
def corpus(seed: int, root: Path, per_source: int = 4) -> pl.DataFrame:
    from benches.studies.outlier_corpus import build

    cached = root / "table.parquet"
    if cached.exists() and all(Path(p).exists() for p in pl.read_parquet(cached)["path"]):
        return pl.read_parquet(cached)
    table = build(root / "corpus", seed=seed, per_source=per_source)
    table.write_parquet(cached)
    return table


def blur_curve(root: Path, seed: int, half: str, per_radius: int) -> pl.DataFrame:
    """``path``, ``radius``; the files of ``build_blur_curve`` under ``root`` (built when absent)."""
    from benches.studies.outlier_corpus import build_blur_curve

    files = sorted(root.glob("blur_*")) if root.exists() else []
    if not files:
        return build_blur_curve(root, seed=seed, per_radius=per_radius, half=half).select("path", "radius")
    radius = [float(re.match(r"blur_([0-9.]+)_", f.name).group(1)) for f in files]  # type: ignore[union-attr]
    return pl.DataFrame({"path": [str(f) for f in files], "radius": radius})


def features(paths: list[str], cache: Path) -> dict[str, Picture]:
    """Block bands of each path, cached in ``cache`` (a pickle keyed by path, size and mtime)."""
    # Stored as plain tuples and dicts, so the cache reads the same under `python -m` and import.
    got: dict[tuple, tuple] = pickle.loads(cache.read_bytes()) if cache.exists() else {}
    keys = {p: (p, Path(p).stat().st_size, Path(p).stat().st_mtime_ns) for p in paths}
    todo = [p for p in paths if keys[p] not in got]
    for p in todo:
        pic = picture_features(p)
        levels = {k: (v.width, v.height, v.blocks, v.axis_q, v.bands) for k, v in pic.levels.items()}
        got[keys[p]] = (pic.path, pic.fmt, pic.width, pic.height, levels, pic.dc)
    if todo:
        cache.write_bytes(pickle.dumps(got))
    out = {}
    for p in paths:
        path, fmt, w, h, levels, dc = got[keys[p]]
        out[p] = Picture(path, fmt, w, h, {k: Level(*v) for k, v in levels.items()}, dc)
    return out


def scanned(paths: list[str], cache: Path) -> pl.DataFrame:
    """The scan's columns and the current ``blurry`` flag of `find_outliers`, cached."""
    if cache.exists():
        df = pl.read_parquet(cache)
        if set(paths) <= set(df["path"]):
            return df
    import recipe_audit
    from recipe_audit.analysis.outliers import find_outliers

    files = recipe_audit.scan(paths, progress=False)
    df = find_outliers(files).select("path", "width", "height", "std", "sharpness", "blurry")
    df.write_parquet(cache)
    return df


def with_measure(df: pl.DataFrame, feats: dict[str, Picture], prm: Params = Params(), sharp_max: float = SHARP_MAX):
    vals = [dct_sharpness(feats[p], prm) for p in df["path"]]
    df = df.with_columns(
        dct_sharpness=pl.Series([v for v, _ in vals], dtype=pl.Float64),
        edge_blocks=pl.Series([n for _, n in vals]),
        fmt=pl.Series([feats[p].fmt for p in df["path"]]),
    )
    judged = (pl.min_horizontal("width", "height") >= MIN_SIDE) & (pl.col("std") > FLAT_STD)
    return df.with_columns(dct_blurry=(judged & (pl.col("dct_sharpness") <= sharp_max)).fill_null(False))


def load(args: argparse.Namespace, which: str) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Picture]]:
    """(corpus half, blur curve, features) with the scan's columns: ``which`` is ``tuning`` (seed
    1, tuning half, tuning curve built here) or ``heldout`` (seed 7, held-out half and curve)."""
    if which == "tuning":
        table = corpus(1, args.seed1, args.per_source).filter(pl.col("half") == "tuning")
        curve = blur_curve(args.cache / "blur_tuning_s1", 2, "tuning", args.curve_per_radius)
    else:
        table = corpus(7, args.seed7, args.per_source).filter(pl.col("half") == "heldout")
        held = args.seed7 / "blur"  # outlier_heldout's curve: build_blur_curve(seed=8), 30 per radius
        curve = blur_curve(held if held.exists() else args.cache / "blur_heldout_s7", 8, "heldout", 30)
    paths = [*table["path"], *curve["path"]]
    feats = features(paths, args.cache / f"features_{which}.pkl")
    scan = scanned(paths, args.cache / f"scan_{which}.parquet")
    return table.join(scan, on="path"), curve.join(scan, on="path"), feats


# --- report -----------------------------------------------------------------------------------
RULES = ("dct_blurry", "dct_blurry_c", "blurry")  # DCT primary, DCT conservative, current rule


def _rate(flags: pl.Series) -> str:
    return f"{int(flags.sum())}/{flags.len()} ({100 * flags.mean():.1f}%)" if flags.len() else "-"


def measured(df: pl.DataFrame, feats: dict[str, Picture]) -> pl.DataFrame:
    """``df`` with the primary DCT flag and null (`with_measure`) and the conservative flag."""
    cr, sm = CONSERVATIVE
    c = with_measure(df, feats, Params(crisp_ratio=cr), sm).select("path", dct_blurry_c="dct_blurry")
    return with_measure(df, feats).join(c, on="path")


def report(name: str, t: pl.DataFrame, curve: pl.DataFrame) -> None:
    photo = pl.col("source_kind").is_in(["photo", "text"])
    ordinary = t.filter(pl.col("kind").str.starts_with("ordinary") & photo)
    other = t.filter(pl.col("kind").str.starts_with("ordinary") & ~photo)
    planted = t.filter(pl.col("kind") == "planted:blurry")
    up = t.filter(pl.col("kind") == "planted:upscaled")
    print(f"### {name}\n")
    print("| set | pictures | DCT blurry | DCT conservative | current (sharpness <= 0.02) | DCT null | current null |")
    print("|---|---|---|---|---|---|---|")
    rows = [("**ordinary photos** (all kinds)", ordinary)]
    rows += [(f"- {k}", g) for (k,), g in sorted(ordinary.group_by("kind"))]
    rows += [(f"- {k} files", g) for (k,), g in sorted(ordinary.group_by("fmt"))]
    rows += [(f"ordinary {k} sources (apart)", g) for (k,), g in sorted(other.group_by("source_kind"))]
    rows += [("**planted:blurry** (recall)", planted)]
    rows += [(f"- {k} files", g) for (k,), g in sorted(planted.group_by("fmt"))]
    rows += [("planted:upscaled (not a goal)", up)]
    for label, g in rows:
        print(
            f"| {label} | {g.height} | " + " | ".join(_rate(g[r]) for r in RULES) + " | "
            f"{_rate(g['dct_sharpness'].is_null())} | {_rate(g['sharpness'].is_null())} |"
        )
    c = curve.group_by("radius").agg(pl.len(), *[pl.col(r).mean() for r in RULES], pl.col("dct_sharpness").is_null())
    c = c.sort("radius")
    print("\n| blur radius (share of long side) | " + " | ".join(f"{r:.2%}" for r in c["radius"]) + " |")
    print("|---|" + "---|" * c.height)
    print("| pictures | " + " | ".join(str(v) for v in c["len"]) + " |")
    for r, label in zip(RULES, ("DCT recall", "DCT conservative recall", "current recall")):
        print(f"| {label} | " + " | ".join(f"{v:.2f}" for v in c[r]) + " |")
    print("| DCT null | " + " | ".join(f"{v.mean():.2f}" for v in c["dct_sharpness"]) + " |")
    goal = curve.filter(pl.col("radius").is_between(0.01, 0.02))
    print("\nRecall at radius 1-2% by format (DCT / conservative / current):")
    for (k,), g in sorted(goal.group_by("fmt")):
        print(f"- {k}: {g.height} pictures, " + " / ".join(f"{g[r].mean():.2f}" for r in RULES))
    for r, label in (("dct_blurry", "DCT measure"), ("blurry", "current rule")):
        flagged = ordinary.filter(pl.col(r))
        print(f"\nOrdinary photos flagged by the {label}:")
        for row in flagged.sort("kind", "source").iter_rows(named=True):
            ds = "null" if row["dct_sharpness"] is None else f"{row['dct_sharpness']:.3f}"
            print(
                f"- {row['source']} ({row['kind']}, {row['fmt']}, {row['width']}x{row['height']}): "
                f"dct_sharpness {ds} over {row['edge_blocks']} edge blocks, sharpness {row['sharpness']}"
            )
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/blurstudy"))
    ap.add_argument("--seed1", type=Path, default=Path("/tmp/oh1"), help="seed-1 corpus (built if absent)")
    ap.add_argument("--seed7", type=Path, default=Path("/tmp/oh7"), help="seed-7 corpus (built if absent)")
    ap.add_argument("--curve-per-radius", type=int, default=40, help="tuning blur curve size")
    ap.add_argument("--per-source", type=int, default=4, help="only when a corpus is built here")
    ap.add_argument("--tuning-only", action="store_true")
    args = ap.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    print(
        f"DCT measure: {Params()}, blurry when dct_sharpness <= {SHARP_MAX}; conservative: "
        f"crisp_ratio {CONSERVATIVE[0]}, blurry when <= {CONSERVATIVE[1]}\n"
    )
    for which in ("tuning", "heldout")[: 1 if args.tuning_only else 2]:
        t, curve, feats = load(args, which)
        name = "tuning half, seed 1" if which == "tuning" else "held-out half, seed 7"
        report(name, measured(t, feats), measured(curve, feats))


if __name__ == "__main__":
    main()
