"""``dark`` and ``bright`` on faults made every way a user (or an evaluator) makes them (issue 17,
"make defaults general, not fitted").

    python -m benches.studies.outlier_exposure --half tuning --seed 5 --with /tmp/oh1 /tmp/oh29
    python -m benches.studies.outlier_exposure --half heldout --seed 43 --with /tmp/oh43

The corpus plants ``bright`` one way (255 - (255 - v) x 0.05-0.15, a blend toward white) and
``dark`` one way (v x 0.05-0.12). A rule chosen on one way can miss another: `ImageEnhance`
brightness x3 clips most of a photograph to white but leaves its shadows grey. Here every way is
made from crops of the photographs of one half (``--half``), and the rules below are judged on them
and on the ordinary pictures of the same half of ``outlier_corpus`` folders (``--with``): plain
crops, flattest crops, fog, night, gray sources, text pages. Choose on ``--half tuning``; report on
``--half heldout`` with a fresh seed and a fresh corpus.

Ways (a crop of 30-100% of each side, long side 200-800 px, JPEG q60-95):

- bright: ``blend`` toward white, 5-15% of the range left (the corpus's); ``enhance``
  `ImageEnhance.Brightness` x2 to x12 (a curve: each factor alone); ``add`` +100 to +190;
  ``exposure`` +2-3 and +3-4.5 stops in linear light; ``gamma`` 0.15-0.3;
- dark: ``enhance`` x0.05 to x0.3 (the issue's "very dark" is x0.05-0.12; the rest is the curve);
  ``subtract`` 100-200; ``exposure`` -4 to -5 stops in linear light (about x0.25-0.3 on sRGB
  values: milder than the issue's fault); ``gamma`` 3.5-5.

Ordinary pictures: those of the ``--with`` folders' half, and ``5 x --per-way`` text pages on
white paper made here (``ordinary_text_white``; the corpus's pages are on tinted paper).

Prints, per rule, the recall of every way and the false flags per ordinary kind; the last two
rows are the library's own `find_outliers` (the dataset median taken over this set), before and
with the clipped-outline leg of ``bright`` and its text guard.
"""

from __future__ import annotations

import argparse
import io
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
from PIL import Image, ImageDraw, ImageEnhance, ImageFont

import recipe_audit
from recipe_audit.analysis.outliers import OutlierThresholds, find_outliers

import benches.studies.sources as sources
from benches.studies.outlier_corpus import ORDINARY, _ordinary, half_of

Way = Callable[[np.random.Generator, Image.Image], Image.Image]


def _array(im: Image.Image) -> np.ndarray:
    return np.asarray(im.convert("RGB"), dtype=np.float64)


def _image(a: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(a + 0.5, 0, 255).astype(np.uint8))


def _to_linear(a: np.ndarray) -> np.ndarray:
    s = a / 255
    return np.where(s <= 0.04045, s / 12.92, ((s + 0.055) / 1.055) ** 2.4)


def _to_srgb(lin: np.ndarray) -> np.ndarray:
    lin = np.clip(lin, 0, 1)
    return 255 * np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055)


def _stops(lo: float, hi: float) -> Way:
    return lambda rng, im: _image(_to_srgb(_to_linear(_array(im)) * 2 ** rng.uniform(lo, hi)))


def _enhance(lo: float, hi: float) -> Way:
    return lambda rng, im: ImageEnhance.Brightness(im).enhance(rng.uniform(lo, hi))


def _gamma(lo: float, hi: float) -> Way:
    return lambda rng, im: _image(255 * (_array(im) / 255) ** rng.uniform(lo, hi))


WAYS: dict[str, Way] = {
    "bright:blend_0.05_0.15": lambda rng, im: _image(255 - (255 - _array(im)) * rng.uniform(0.05, 0.15))
}
for _k in (2, 3, 4, 6, 8, 12):
    WAYS[f"bright:enhance_x{_k}"] = _enhance(_k, _k)
for _d in (100, 130, 160, 190):
    WAYS[f"bright:add_{_d}"] = (lambda d: lambda rng, im: _image(_array(im) + d))(_d)
WAYS["bright:exposure_+2_+3"] = _stops(2.0, 3.0)
WAYS["bright:exposure_+3_+4.5"] = _stops(3.0, 4.5)
WAYS["bright:gamma_0.15_0.3"] = _gamma(0.15, 0.3)
for _k in (0.05, 0.1, 0.15, 0.2, 0.3):
    WAYS[f"dark:enhance_x{_k:g}"] = _enhance(_k, _k)
for _d in (100, 150, 200):
    WAYS[f"dark:subtract_{_d}"] = (lambda d: lambda rng, im: _image(_array(im) - d))(_d)
WAYS["dark:exposure_-4_-5"] = _stops(-5.0, -4.0)
WAYS["dark:gamma_3.5_5"] = _gamma(3.5, 5.0)

# Candidate rules on the scan's columns: luma ``mean``, the darkest and brightest 1% (``luma_p01``,
# ``luma_p99``), the brightest 0.1% (``luma_p999``, measures revision 5), the shares of pixels at luma <= 15 and >= 240 (``dark_frac``, ``bright_frac``).
# The first is the default before this study.
_DARK = pl.col("luma_p99") <= 40
_BRIGHT = pl.col("luma_p01") >= 210
RULES: dict[str, tuple[pl.Expr, pl.Expr]] = {"p99<=40 / p01>=210 (before)": (_DARK, _BRIGHT)}
for _m in (235, 240, 245):
    RULES[f"bright also mean>={_m}"] = (_DARK, _BRIGHT | (pl.col("mean") >= _m))
for _f in (0.8, 0.85, 0.9):
    RULES[f"bright also white>={_f:g}"] = (_DARK, _BRIGHT | (pl.col("bright_frac") >= _f))
for _m in (10, 15, 20):
    RULES[f"dark also mean<={_m}"] = (_DARK | (pl.col("mean") <= _m), _BRIGHT)
for _f in (0.9, 0.95):
    RULES[f"dark also black>={_f:g}"] = (_DARK | (pl.col("dark_frac") >= _f), _BRIGHT)
for _v in (35, 40, 45, 50):  # the brightest speck instead of the brightest 1%: a night sky keeps its stars
    RULES[f"dark p999<={_v}"] = (pl.col("luma_p999") <= _v, _BRIGHT)


LIBRARY = {
    "find_outliers, without the clipped outline and the text guard": OutlierThresholds(bright_edges=1e9, text_rows=2.0),
    "find_outliers (the defaults)": OutlierThresholds(),
}
"""The library's `dark` and `bright` flags, before and with the clipped-outline leg of `bright`."""


def make(root: Path, half: str, seed: int, per_way: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    photos = [p for p in sources.library() if half_of(p.name) == half and not p.gray and p.kind == "photo"]
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    rows = []
    for i in range(per_way):
        for way, fn in WAYS.items():
            photo = photos[int(rng.integers(len(photos)))]
            im = fn(rng, _ordinary(rng, photo).convert("RGB"))
            path = root / f"{way.replace(':', '_')}_{i:03d}.jpg"
            buf = io.BytesIO()
            im.save(buf, format="JPEG", quality=int(rng.integers(60, 96)))
            path.write_bytes(buf.getvalue())
            rows.append((str(path), way, photo.name))
    return pl.DataFrame(rows, schema=["path", "kind", "source"], orient="row")


_WORDS = (
    "the recipe says become one with the data before any model look at every picture of the set "
    "and count what you see then train a simple baseline first check labels outliers and leaks"
).split()


def _white_page(rng: np.random.Generator) -> Image.Image:
    """A text page on white or near-white paper (the corpus's pages are on tinted paper): one or
    two columns, a font and size of the system's, sometimes a heading."""
    fonts = sorted(Path("/usr/share/fonts/truetype").rglob("*.ttf"))
    w, h = int(rng.integers(300, 1001)), int(rng.integers(300, 1001))
    paper = (255, 255, 255) if rng.random() < 0.5 else tuple(int(v) for v in rng.integers(244, 256, 3))
    im = Image.new("RGB", (w, h), paper)
    draw = ImageDraw.Draw(im)
    size = int(rng.integers(8, 25))
    font = ImageFont.truetype(str(fonts[int(rng.integers(len(fonts)))]), size)
    ink = tuple(int(v) for v in rng.integers(0, 110, 3))
    columns = 2 if rng.random() < 0.3 and w > 500 else 1
    margin = int(rng.integers(8, 60))
    spacing = rng.uniform(1.15, 2.2)
    width = (w - 2 * margin) // columns
    for c in range(columns):
        x, y = margin + c * width, int(rng.integers(8, 60))
        if rng.random() < 0.3:
            heading = ImageFont.truetype(str(fonts[int(rng.integers(len(fonts)))]), int(size * rng.uniform(1.5, 2.5)))
            draw.text((x, y), " ".join(_WORDS[int(i)] for i in rng.integers(0, len(_WORDS), 3)), fill=ink, font=heading)
            y += size * 3
        while y < h - size - 8:
            n = int(rng.integers(3, 18)) if rng.random() < 0.15 else 30
            line = " ".join(_WORDS[int(i)] for i in rng.integers(0, len(_WORDS), n))
            while draw.textlength(line, font=font) > width - 10 and " " in line:
                line = line.rsplit(" ", 1)[0]
            draw.text((x, y), line, fill=ink, font=font)
            y += int(size * spacing) + (size if rng.random() < 0.1 else 0)
    return im


def white_pages(root: Path, seed: int, count: int) -> pl.DataFrame:
    """`count` text pages on white paper, JPEG q60-95 or (15%) PNG: ordinary, never `bright`."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(count):
        im, png = _white_page(rng), rng.random() < 0.15
        path = root / f"text_white_{i:04d}.{'png' if png else 'jpg'}"
        buf = io.BytesIO()
        im.save(buf, format="PNG") if png else im.save(buf, format="JPEG", quality=int(rng.integers(60, 96)))
        path.write_bytes(buf.getvalue())
        rows.append((str(path), "ordinary_text_white", "rendered"))
    return pl.DataFrame(rows, schema=["path", "kind", "source"], orient="row")


def ordinary_rows(corpora: list[Path], half: str) -> pl.DataFrame:
    tables = [pl.read_parquet(c / "table.parquet") for c in corpora]
    t = pl.concat(tables).filter((pl.col("half") == half) & pl.col("kind").is_in(ORDINARY))
    return t.filter(pl.col("source_kind").is_in(["photo", "text"])).select("path", "kind", "source")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--half", choices=("tuning", "heldout"), required=True)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--per-way", type=int, default=30)
    ap.add_argument("--with", dest="corpora", type=Path, nargs="+", required=True, help="outlier_heldout folders")
    ap.add_argument("--dir", type=Path, default=Path("/tmp/outlier_exposure"))
    ap.add_argument("--rules", default="", help="comma-separated rule names to print (default: all)")
    ap.add_argument("--sources", type=Path, default=None, help="draw from the pictures listed in this file (`sources`)")
    args = ap.parse_args()
    sources.use(args.sources)
    planted = make(args.dir / args.half, args.half, args.seed, args.per_way)
    pages = white_pages(args.dir / args.half / "white_pages", args.seed + 1, 5 * args.per_way)
    ordinary = ordinary_rows(args.corpora, args.half)
    table = pl.concat([planted, pages, ordinary])
    scanned = recipe_audit.scan(list(table["path"]), progress=False).join(table, on="path")
    scanned = scanned.filter(pl.col("status") == "ok")
    print(
        f"half {args.half}, seed {args.seed}: {planted.height} made from {planted['source'].n_unique()} photographs; "
        f"{ordinary.height} ordinary pictures of {', '.join(map(str, args.corpora))}\n"
    )
    kinds = sorted(scanned["kind"].unique())
    print("| rule | " + " | ".join(kinds) + " |\n|---|" + "---|" * len(kinds))
    wanted = [r for r in args.rules.split(",") if r] or list(RULES)
    for name in wanted:
        dark, bright = RULES[name]
        print(_row(name, scanned.with_columns(dark=dark, bright=bright), kinds))
    # The library's own flags, on the same pictures (the dataset median is this set's).
    for name, thresholds in LIBRARY.items():
        flags = find_outliers(scanned, thresholds=thresholds, by_class=False).select("path", "dark", "bright")
        print(_row(name, scanned.join(flags, on="path"), kinds))


def _row(name: str, judged: pl.DataFrame, kinds: list[str]) -> str:
    """A table row: per kind, the faults found by their own flag, or the ordinary pictures with either."""
    cells = []
    for kind in kinds:
        g = judged.filter(pl.col("kind") == kind)
        family = kind.split(":")[0]
        hit = g[family] if family in ("dark", "bright") else (g["dark"] | g["bright"])
        cells.append(f"{int(hit.sum())}/{g.height}")
    return f"| {name} | " + " | ".join(cells) + " |"


if __name__ == "__main__":
    main()
