"""`blurry` on smears (camera shake, a moving subject), held out: recall by smear length and kind,
and the flags the smear leg adds to ordinary pictures, from the photographs of one half.

    python -m benches.studies.blur_smear --half tuning --seed 173 --dir /tmp/smear173    # choose
    python -m benches.studies.blur_smear --half heldout --seed 174 --dir /tmp/smear174   # report

Per source of the half (`outlier_corpus.half_of`): ordinary crops as `outlier_corpus` makes them
(``ordinary``/``ordinary_gray`` x `--per-source`, one each of ``ordinary_flat``, ``_fog``,
``_night``), and ``hard_aniso``: the most anisotropic of 12 crops (15-50% of each side; streaked
skies, water, blinds, a horizon: soft one way by nature), plus 30 text pages. Smears are made
from colour photographs (crops of 30-100% of each side, long side 200-800 px): ``straight`` at any
angle (0-180 degrees) and ``curved`` (a 64-step walk whose heading drifts: a shaking hand), of
2-6% of the long side, saved in the corpus's mix of formats. Every file is scanned once; the
flags are the library's, and "before" is the same `find_outliers` with the smear leg off
(``smear_max=-1``), so the added flags are exactly the leg's.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import polars as pl
from PIL import Image
from scipy import ndimage

import recipe_audit
from recipe_audit.analysis.outliers import FLAGS, OutlierThresholds, find_outliers

import benches.studies.sources as sources
from benches.studies.outlier_corpus import _crop, _encode, _ordinary_kind, _sized, _text_page, half_of


def _kernel(points: np.ndarray) -> np.ndarray:
    """A normalised kernel from sub-pixel points (N x 2, (y, x) px), splatted bilinearly."""
    pts = points - points.mean(0)
    n = int(np.ceil(np.abs(pts).max())) + 2
    k = np.zeros((2 * n + 1, 2 * n + 1))
    for y, x in pts + n:
        y0, x0 = int(np.floor(y)), int(np.floor(x))
        fy, fx = y - y0, x - x0
        k[y0, x0] += (1 - fy) * (1 - fx)
        k[y0 + 1, x0] += fy * (1 - fx)
        k[y0, x0 + 1] += (1 - fy) * fx
        k[y0 + 1, x0 + 1] += fy * fx
    return k / k.sum()


def straight(length: float, degrees: float) -> np.ndarray:
    t = np.linspace(-length / 2, length / 2, max(2, int(length * 8)))
    a = np.deg2rad(degrees)
    return _kernel(np.stack([t * np.sin(a), t * np.cos(a)], 1))


def curved(rng: np.random.Generator, length: float) -> np.ndarray:
    """A shaking hand's path: a random walk of `length` px whose heading drifts, at even speed."""
    steps = 64
    heading = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, rng.uniform(0.1, 0.35), steps))
    d = np.stack([np.sin(heading), np.cos(heading)], 1) * (length / steps)
    path = np.cumsum(d, 0)
    dense = np.concatenate([path[i] + np.outer(np.linspace(0, 1, 8, endpoint=False), d[i]) for i in range(steps)])
    return _kernel(dense)


def _convolve(im: Image.Image, k: np.ndarray) -> Image.Image:
    a = np.asarray(im.convert("RGB"), dtype=np.float64)
    out = np.stack([ndimage.convolve(a[..., c], k, mode="reflect") for c in range(3)], -1)
    return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8))


def _anisotropy(arr: np.ndarray) -> float:
    g = arr.astype(np.float64).mean(2) if arr.ndim == 3 else arr.astype(np.float64)
    s = max(1, max(g.shape) // 150)
    g = g[::s, ::s]
    e = [
        np.abs(np.diff(g, axis=0)).mean(),
        np.abs(np.diff(g, axis=1)).mean(),
        np.abs(g[1:, 1:] - g[:-1, :-1]).mean(),
        np.abs(g[1:, :-1] - g[:-1, 1:]).mean(),
    ]
    return max(e[0] / (e[1] + 1e-3), e[1] / (e[0] + 1e-3), e[2] / (e[3] + 1e-3), e[3] / (e[2] + 1e-3))


def build(root: Path, half: str, seed: int, per_source: int = 8, smears: int = 300, curves: int = 150) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    library = [p for p in sources.library() if half_of(p.name) == half]
    rows: list[tuple[str, str, str, float | None]] = []

    def put(im: Image.Image, kind: str, source: str, length: float | None = None) -> None:
        data, ext = _encode(rng, im)
        path = root / kind / f"{len(rows):05d}.{ext}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        rows.append((str(path), source, kind, length))

    for photo in library:
        base = "ordinary_gray" if photo.gray else "ordinary"
        for _ in range(per_source):
            put(_ordinary_kind(rng, base, photo), base, photo.name)
        for kind in ("ordinary_flat", "ordinary_fog", "ordinary_night"):
            put(_ordinary_kind(rng, kind, photo), kind, photo.name)
        for _ in range(3):
            crops = [_crop(rng, photo.array, 0.15, 0.5) for _ in range(12)]
            put(_sized(max(crops, key=_anisotropy), int(rng.integers(200, 801))), "hard_aniso", photo.name)
    for _ in range(30):
        put(_text_page(rng), "ordinary_text", "text")
    colour = [p for p in library if not p.gray and p.kind == "photo"]
    for i in range(smears + curves):
        photo = colour[int(rng.integers(len(colour)))]
        im = _sized(_crop(rng, photo.array, 0.3, 1.0), int(rng.integers(200, 801)))
        share = float(rng.uniform(0.02, 0.06))
        length = share * max(im.size)
        if i < smears:
            put(_convolve(im, straight(length, float(rng.uniform(0, 180)))), "smear_straight", photo.name, share)
        else:
            put(_convolve(im, curved(rng, length)), "smear_curved", photo.name, share)
    schema = {"path": pl.String, "source": pl.String, "kind": pl.String, "length": pl.Float64}
    return pl.DataFrame(rows, schema=schema, orient="row")


def report(table: pl.DataFrame) -> str:
    files = recipe_audit.scan(table["path"].to_list(), progress=False)
    now = find_outliers(files).join(table, on="path")
    before = find_outliers(files, thresholds=OutlierThresholds(smear_max=-1.0)).select("path", blurry_before="blurry")
    judged = now.join(before, on="path").with_columns(
        other=pl.any_horizontal([f for f in FLAGS if f not in ("blurry", "grayscale")])
    )
    lines = [
        "| kind | pictures | `blurry` before | now | added by the smear leg (no other flag) |",
        "|---|---|---|---|---|",
    ]
    for (kind,), g in sorted(judged.group_by("kind")):
        added = g.filter(pl.col("blurry") & ~pl.col("blurry_before") & ~pl.col("other")).height
        lines.append(f"| {kind} | {g.height} | {int(g['blurry_before'].sum())} | {int(g['blurry'].sum())} | {added} |")
    smeared = judged.filter(pl.col("kind").str.starts_with("smear")).with_columns(
        band=pl.when(pl.col("length") < 0.03)
        .then(pl.lit("2-3%"))
        .when(pl.col("length") < 0.04)
        .then(pl.lit("3-4%"))
        .otherwise(pl.lit("4-6%"))
    )
    lines += [
        "",
        "| smear | length (of the long side) | pictures | recall before | recall now |",
        "|---|---|---|---|---|",
    ]
    for (kind, band), g in sorted(smeared.group_by("kind", "band")):
        lines.append(f"| {kind} | {band} | {g.height} | {g['blurry_before'].mean():.2f} | {g['blurry'].mean():.2f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--half", choices=("tuning", "heldout"), required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/blur_smear"))
    ap.add_argument("--per-source", type=int, default=8)
    ap.add_argument("--reuse", action="store_true", help="score the corpus already in --dir")
    args = ap.parse_args()
    if args.reuse:
        table = pl.read_parquet(args.dir / "table.parquet")
    else:
        shutil.rmtree(args.dir, ignore_errors=True)
        table = build(args.dir, args.half, args.seed, args.per_source)
        table.write_parquet(args.dir / "table.parquet")
    print(f"{args.half} half, seed {args.seed}: {table.height} files\n")
    print(report(table))


if __name__ == "__main__":
    main()
