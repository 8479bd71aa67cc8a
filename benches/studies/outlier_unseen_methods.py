"""The outlier flags on faults made in ways the corpus never made them (issue 17, "make defaults
general, not fitted"): other blur kernels, other ways to darken or brighten, other sizes and
formats, and ordinary photographs handled as users handle them.

    python -m benches.studies.outlier_unseen_methods [--seed 97] [--per-kind 40] [--dir /tmp/outlier_unseen]

Every picture is a crop of a colour photograph of the held-out half of `outlier_corpus` (never
looked at while the thresholds were chosen), made like its ordinary crops (30-100% of each side,
long side 200-800 px unless a kind says otherwise, JPEG q60-95 unless it says otherwise). They are
judged with `find_outliers` together with the held-out ordinary crops of an `outlier_corpus` folder
when ``--with DIR`` names one (a folder of photographs with these among them), else alone. Nothing
here was used to choose a threshold.

Kinds (blur radii are shares of the long side):

- ``blurry:gaussian``: the corpus's own fault (Gaussian, sigma 1-2%), for reference;
- ``blurry:gaussian_large`` / ``_small``: the same on crops with a long side of 1200-2400 px /
  100-200 px; ``_png``: saved as PNG; ``_q25_45``: saved as JPEG q25-45;
- ``blurry:disk_1_2`` / ``disk_2_4``: a defocus disk of radius 1-2% / 2-4% (a disk of radius r has
  a standard deviation of r/2: the second is the Gaussian's size);
- ``blurry:box``: PIL's box blur of radius 1-2% (standard deviation about 0.6 r);
- ``blurry:motion``: a straight smear of 3-6%, horizontal or vertical (camera shake);
- ``dark:enhance``: `ImageEnhance.Brightness` x0.05-0.12; ``dark:gamma``: gamma 3.5-5 (the
  highlights stay: a night scene, by the flag's definition not dark);
- ``bright:gamma``: gamma 0.15-0.3 (the blacks stay black: by the flag's definition not bright);
- ``grayscale:q30_50``: gray stored as RGB, JPEG q30-50 (chroma noise); ``grayscale:png``;
- ``odd_size:square``: 8-16 px squares, PNG; ``odd_size:oblong_jpeg``: 8-16 x 10-24 px, JPEG;
- ``odd_aspect:strip``: a 20-30:1 strip cut out of a photograph (not squeezed), 500-1200 px long;
  ``odd_aspect:squeezed_png``: a crop squeezed to 20-30:1, PNG;
- ``low_information:*``: ``black_jpeg`` / ``white_jpeg`` (frames at 0-6 / 249-255, JPEG q60-95),
  ``solid_q20`` (one random colour, JPEG q15-25: block noise), ``solid_png_noise`` (one colour,
  Gaussian noise of sigma 1-2), ``ramp`` (one colour plus a linear ramp of 4-8 levels across the
  picture, the faint gradient of a studio backdrop or a blank sky);
- ``grayscale:tinted_noise``: gray stored as RGB with chroma noise of +-1 level per channel (a
  scanner's or a converter's rounding); ``grayscale:jpeg_l``: saved as a one-channel JPEG;
- ``ordinary:*``: crops that must carry no flag: ``large`` (long side 1200-2400 px), ``small``
  (100-200 px), ``q15_30`` (JPEG q15-30), ``webp``, ``upscaled`` (enlarged 1.3-2x, bicubic),
  ``soft_1px`` (a Gaussian of 0.6-1.2 px: a resize or a cheap lens).

Prints one row per kind: the flag it should (or should not) carry, how often, and the median
`sharpness` of the kind (BENCHMARKS.md, "Outlier flags on faults made another way").
"""

from __future__ import annotations

import argparse
import io
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
from PIL import Image, ImageEnhance, ImageFilter
from scipy import ndimage

import recipe_audit
from recipe_audit.analysis.outliers import find_outliers
from recipe_audit.examples import Photo, photo_library

from benches.studies.outlier_corpus import _crop, _sized, half_of

Picture = tuple[Image.Image, str, int | None]  # picture, format, JPEG quality (None: drawn)


def _kernel(image: Image.Image, kernel: np.ndarray) -> Image.Image:
    a = np.asarray(image.convert("RGB"), dtype=np.float64)
    out = np.stack([ndimage.convolve(a[..., c], kernel, mode="reflect") for c in range(3)], -1)
    return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8))


def _disk(radius: float) -> np.ndarray:
    n = int(np.ceil(radius))
    y, x = np.mgrid[-n : n + 1, -n : n + 1]
    k = (x * x + y * y <= radius * radius).astype(np.float64)
    return k / k.sum()


def _solid(rng: np.random.Generator, color: np.ndarray, sigma: float = 0.0) -> Image.Image:
    w, h = int(rng.integers(200, 801)), int(rng.integers(200, 801))
    noise = rng.normal(0, sigma, (h, w, 1)) if sigma else np.zeros((h, w, 1))
    return Image.fromarray(np.clip(color + noise + 0.5, 0, 255).astype(np.uint8))


def _ramp(rng: np.random.Generator) -> Image.Image:
    w, h = int(rng.integers(200, 801)), int(rng.integers(200, 801))
    span = rng.uniform(4, 8)
    along = np.linspace(-span / 2, span / 2, h if rng.random() < 0.5 else w)
    ramp = along[:, None, None] if along.size == h else along[None, :, None]
    color = rng.integers(30, 226, 3).astype(np.float64)
    return Image.fromarray(np.clip(color + np.broadcast_to(ramp, (h, w, 1)) + 0.5, 0, 255).astype(np.uint8))


def _gamma(image: Image.Image, g: float) -> Image.Image:
    a = np.asarray(image, dtype=np.float64) / 255
    return Image.fromarray((255 * a**g + 0.5).astype(np.uint8))


class Maker:
    """Draws crops of the held-out half's colour photographs and saves the kinds' pictures."""

    def __init__(self, seed: int, root: Path) -> None:
        self.rng = np.random.default_rng(seed)
        self.root = root
        self.photos = [p for p in photo_library() if half_of(p.name) == "heldout" and not p.gray and p.kind == "photo"]
        self.large = [p for p in self.photos if max(p.array.shape[:2]) >= 1200]
        self.rows: list[tuple[str, str, str]] = []

    def crop(self, lo: int = 200, hi: int = 801, pool: list[Photo] | None = None) -> tuple[Image.Image, str]:
        pool = pool or self.photos
        photo = pool[int(self.rng.integers(len(pool)))]
        return _sized(_crop(self.rng, photo.array, 0.3, 1.0), int(self.rng.integers(lo, hi))), photo.name

    def gaussian(self, im: Image.Image) -> Image.Image:
        return im.filter(ImageFilter.GaussianBlur(max(im.size) * self.rng.uniform(0.01, 0.02)))

    def save(self, kind: str, source: str, picture: Picture) -> None:
        im, fmt, quality = picture
        buf = io.BytesIO()
        if fmt in ("JPEG", "WEBP"):
            im.save(buf, format=fmt, quality=quality or int(self.rng.integers(60, 96)))
        else:
            im.save(buf, format=fmt)
        ext = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}[fmt]
        path = self.root / kind.replace(":", "_") / f"{len(self.rows):05d}.{ext}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(buf.getvalue())
        self.rows.append((str(path), kind, source))


def kinds(m: Maker) -> dict[str, Callable[[], tuple[Picture, str]]]:
    """Each kind's maker: a picture and the name of its source photograph."""
    rng = m.rng

    def made(
        fn: Callable[[Image.Image], Image.Image], fmt: str = "JPEG", quality: tuple[int, int] | None = None, **crop
    ):
        def make() -> tuple[Picture, str]:
            im, source = m.crop(**crop)
            drawn = None if quality is None else int(rng.integers(quality[0], quality[1] + 1))
            return (fn(im), fmt, drawn), source

        return make

    def motion(im: Image.Image) -> Image.Image:
        k = np.full((1, max(1, round(max(im.size) * rng.uniform(0.03, 0.06)))), 1.0)
        return _kernel(im, (k if rng.random() < 0.5 else k.T) / k.size)

    def strip(_: Image.Image) -> Image.Image:
        photo = m.photos[int(rng.integers(len(m.photos)))].array
        long_side = min(int(rng.integers(500, 1201)), max(photo.shape[:2]))
        short = max(8, round(long_side / rng.uniform(20, 30)))
        if photo.shape[1] >= long_side and rng.random() < 0.5:
            y, x = (
                int(rng.integers(0, photo.shape[0] - short + 1)),
                int(rng.integers(0, photo.shape[1] - long_side + 1)),
            )
            return Image.fromarray(photo[y : y + short, x : x + long_side])
        long_side = min(long_side, photo.shape[0])
        y, x = int(rng.integers(0, photo.shape[0] - long_side + 1)), int(rng.integers(0, photo.shape[1] - short + 1))
        return Image.fromarray(photo[y : y + long_side, x : x + short])

    def squeezed(im: Image.Image) -> Image.Image:
        long_side = int(rng.integers(500, 1201))
        size = (long_side, max(8, round(long_side / rng.uniform(20, 30))))
        return im.resize(size if rng.random() < 0.5 else size[::-1], Image.Resampling.LANCZOS)

    def tinted(im: Image.Image) -> Image.Image:
        g = np.asarray(im.convert("L"), dtype=np.int16)[..., None]
        return Image.fromarray(np.clip(g + rng.integers(-1, 2, (*g.shape[:2], 3)), 0, 255).astype(np.uint8))

    def frame(lo: int, hi: int) -> Callable[[Image.Image], Image.Image]:
        return lambda _: _solid(rng, np.full(3, float(rng.integers(lo, hi + 1))))

    def upscaled(im: Image.Image) -> Image.Image:
        f = rng.uniform(1.3, 2.0)
        return im.resize((round(im.width * f), round(im.height * f)), Image.Resampling.BICUBIC)

    return {
        "blurry:gaussian": made(m.gaussian),
        "blurry:gaussian_large": made(m.gaussian, lo=1200, hi=2401, pool=m.large),
        "blurry:gaussian_small": made(m.gaussian, lo=100, hi=200),
        "blurry:gaussian_png": made(m.gaussian, "PNG"),
        "blurry:gaussian_q25_45": made(m.gaussian, quality=(25, 45)),
        "blurry:disk_1_2": made(lambda im: _kernel(im, _disk(max(im.size) * rng.uniform(0.01, 0.02)))),
        "blurry:disk_2_4": made(lambda im: _kernel(im, _disk(max(im.size) * rng.uniform(0.02, 0.04)))),
        "blurry:box": made(lambda im: im.filter(ImageFilter.BoxBlur(max(im.size) * rng.uniform(0.01, 0.02)))),
        "blurry:motion": made(motion),
        "dark:enhance": made(lambda im: ImageEnhance.Brightness(im).enhance(rng.uniform(0.05, 0.12))),
        "dark:gamma": made(lambda im: _gamma(im, rng.uniform(3.5, 5.0))),
        "bright:gamma": made(lambda im: _gamma(im, rng.uniform(0.15, 0.3))),
        "grayscale:q30_50": made(lambda im: im.convert("L").convert("RGB"), quality=(30, 50)),
        "grayscale:png": made(lambda im: im.convert("L").convert("RGB"), "PNG"),
        "odd_size:square": made(lambda im: im.resize((int(rng.integers(8, 17)),) * 2), "PNG"),
        "odd_size:oblong_jpeg": made(lambda im: im.resize((int(rng.integers(8, 17)), int(rng.integers(10, 25))))),
        "odd_aspect:strip": made(strip),
        "odd_aspect:squeezed_png": made(squeezed, "PNG"),
        "low_information:black_jpeg": made(frame(0, 6)),
        "low_information:white_jpeg": made(frame(249, 255)),
        "low_information:solid_q20": made(
            lambda _: _solid(rng, rng.integers(0, 256, 3).astype(np.float64)), quality=(15, 25)
        ),
        "low_information:solid_png_noise": made(
            lambda _: _solid(rng, rng.integers(0, 256, 3).astype(np.float64), rng.uniform(1, 2)), "PNG"
        ),
        "low_information:ramp": made(lambda _: _ramp(rng)),
        "grayscale:tinted_noise": made(tinted),
        "grayscale:jpeg_l": made(lambda im: im.convert("L")),
        "ordinary:large": made(lambda im: im, lo=1200, hi=2401, pool=m.large),
        "ordinary:small": made(lambda im: im, lo=100, hi=200),
        "ordinary:q15_30": made(lambda im: im, quality=(15, 30)),
        "ordinary:webp": made(lambda im: im, "WEBP"),
        "ordinary:upscaled": made(upscaled),
        "ordinary:soft_1px": made(lambda im: im.filter(ImageFilter.GaussianBlur(rng.uniform(0.6, 1.2)))),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=97)
    ap.add_argument("--per-kind", type=int, default=40)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/outlier_unseen"))
    ap.add_argument("--with", dest="with_dir", type=Path, help="an outlier_heldout folder to judge among")
    args = ap.parse_args()
    shutil.rmtree(args.dir, ignore_errors=True)
    maker = Maker(args.seed, args.dir)
    makers = kinds(maker)
    for _ in range(args.per_kind):
        for kind, make in makers.items():
            picture, source = make()
            maker.save(kind, source, picture)
    table = pl.DataFrame(maker.rows, schema=["path", "kind", "source"], orient="row")
    among = sorted(str(p) for p in (args.with_dir / "corpus/heldout/ordinary").glob("*")) if args.with_dir else []
    judged = find_outliers(recipe_audit.scan([*table["path"], *among], progress=False)).join(table, on="path")
    print(f"seed {args.seed}: {table.height} pictures from {table['source'].n_unique()} held-out photographs")
    print(f"judged among {len(among)} held-out ordinary crops\n" if among else "judged alone\n")
    print(
        "| kind | flag (ordinary: any) | pictures with it | median `sharpness` (null) | other flags |\n|---|---|---|---|---|"
    )
    for (kind,), g in sorted(judged.group_by("kind"), key=lambda kv: kv[0]):
        family = kind.split(":")[0]
        flags = g.explode("flags")["flags"].drop_nulls()
        if family == "ordinary":
            flag, count = "(none)", int((g["flags"].list.len() > 0).sum())
            others = ", ".join(f"{f} {n}" for f, n in flags.value_counts(sort=True).rows()) or "-"
        else:
            flag, count = family, int(g[family].sum())
            others = ", ".join(f"{f} {n}" for f, n in flags.value_counts(sort=True).rows() if f != family) or "-"
        sharp = g["sharpness"].median()
        print(
            f"| {kind} | `{flag}` | {count}/{g.height} | {'-' if sharp is None else f'{sharp:.3f}'} "
            f"({g['sharpness'].is_null().sum()}) | {others} |"
        )


if __name__ == "__main__":
    main()
