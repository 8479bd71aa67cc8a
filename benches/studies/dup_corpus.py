"""A corpus of real edits for judging near-duplicate search held out (issue 16).

    from dup_corpus import build
    table = build(Path("/tmp/dups"), seed=1, originals_per_source=4)

Sources: the photographs and art of `recipe_audit.examples.photo_library` (paper textures left out:
blank sheets are look-alikes by nature). Each source belongs to the tuning or the held-out half by a
hash of its name (`outlier_corpus.half_of`), so a rule fitted on one half never saw the other's
pictures. Per source, `originals_per_source` crops (30-80% of each side, pairwise IoU < 0.3, long
side 200-800 px, JPEG q80-95), and per original one edited copy per transform of `TRANSFORMS`, each
alone, plus `pairs_per_original` copies with two transforms drawn at random. Parameters are drawn
per copy:

- ``crop``: an asymmetric crop removing 2-10% of each axis in total, split at random between the
  two sides; ``crop_10_20``: the same removing 10-20% (reported as a curve, not a goal);
- ``rotate``: 2-5 degrees either way, then the corners cropped off (6% per side);
- ``flip``: horizontal mirror image;
- ``watermark``: a line of text (DejaVu, 4-8% of the height, white or black, 40-80% opaque) at a
  random place;
- ``brightness``: x0.75-0.9 or x1.1-1.3; ``contrast``: x0.7-0.85 or x1.15-1.4;
- ``resize``: 0.4-0.8x or 1.25-2x; ``jpeg``: re-encoded at quality 30-70; ``png`` / ``webp``:
  re-encoded losslessly / at quality 70-90; ``blur``: Gaussian of radius 0.5-1.5 px;
  ``grayscale``: converted to gray (stored as RGB).

The table: ``path``, ``source``, ``half``, ``original`` (the id of the original the file comes
from), ``transform`` (``original``, a name, or ``a+b``), and the source region of the original,
``top``, ``left``, ``bottom``, ``right`` (in the source picture's pixels; edits that crop keep
their original's region: the truth is decided between originals). Two files are a true pair when
they come from one original, or from two originals of one source whose regions overlap with IoU
>= 0.5; every other pair is false (strict precision).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import polars as pl
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

import benches.studies.sources as sources
from benches.studies.outlier_corpus import half_of

_FONT = next(iter(sorted(Path("/usr/share/fonts/truetype").rglob("DejaVuSans-Bold.ttf"))), None)
Edit = Callable[[np.random.Generator, Image.Image], Image.Image]


def _asymmetric_crop(lo: float, hi: float) -> Edit:
    def edit(rng: np.random.Generator, im: Image.Image) -> Image.Image:
        w, h = im.size
        box = []
        for size in (w, h):
            total = rng.uniform(lo, hi) * size
            first = total * rng.uniform(0, 1)
            box.append((int(round(first)), int(round(size - (total - first)))))
        (x0, x1), (y0, y1) = box
        return im.crop((x0, y0, x1, y1))

    return edit


def _rotate(rng: np.random.Generator, im: Image.Image) -> Image.Image:
    angle = rng.uniform(2, 5) * rng.choice([-1, 1])
    turned = im.rotate(angle, resample=Image.Resampling.BICUBIC)
    dx, dy = int(im.width * 0.06), int(im.height * 0.06)
    return turned.crop((dx, dy, im.width - dx, im.height - dy))


def _watermark(rng: np.random.Generator, im: Image.Image) -> Image.Image:
    out = im.convert("RGBA")
    layer = Image.new("RGBA", out.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    size = max(8, int(im.height * rng.uniform(0.04, 0.08)))
    font = ImageFont.truetype(str(_FONT), size) if _FONT else ImageFont.load_default()
    text = rng.choice(["© stock photo", "SAMPLE", "recipe-audit.example", "DO NOT COPY", "@photographer"])
    shade = 255 if rng.random() < 0.5 else 0
    alpha = int(255 * rng.uniform(0.4, 0.8))
    x, y = int(rng.uniform(0, 0.5) * im.width), int(rng.uniform(0, 0.9) * im.height)
    draw.text((x, y), str(text), font=font, fill=(shade, shade, shade, alpha))
    return Image.alpha_composite(out, layer).convert("RGB")


def _scale(factor_ranges: tuple[tuple[float, float], ...]) -> Callable[[np.random.Generator], float]:
    return lambda rng: rng.uniform(*factor_ranges[int(rng.integers(len(factor_ranges)))])


_BRIGHTNESS = _scale(((0.75, 0.9), (1.1, 1.3)))
_CONTRAST = _scale(((0.7, 0.85), (1.15, 1.4)))
_RESIZE = _scale(((0.4, 0.8), (1.25, 2.0)))

TRANSFORMS: dict[str, Edit] = {
    "crop": _asymmetric_crop(0.02, 0.10),
    "rotate": _rotate,
    "flip": lambda rng, im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
    "watermark": _watermark,
    "brightness": lambda rng, im: ImageEnhance.Brightness(im).enhance(_BRIGHTNESS(rng)),
    "contrast": lambda rng, im: ImageEnhance.Contrast(im).enhance(_CONTRAST(rng)),
    "resize": lambda rng, im: (
        lambda f: im.resize((max(8, round(im.width * f)), max(8, round(im.height * f))), Image.Resampling.LANCZOS)
    )(_RESIZE(rng)),
    "jpeg": lambda rng, im: im,  # the re-encoding is the edit (see _ENCODING)
    "png": lambda rng, im: im,
    "webp": lambda rng, im: im,
    "blur": lambda rng, im: im.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.5))),
    "grayscale": lambda rng, im: im.convert("L").convert("RGB"),
    "crop_10_20": _asymmetric_crop(0.10, 0.20),
}
"""Every edit; ``crop_10_20`` is the harder crop reported as a curve."""

GOAL_TRANSFORMS = tuple(t for t in TRANSFORMS if t != "crop_10_20")
_ENCODING = {"jpeg": ("JPEG", (30, 70)), "png": ("PNG", None), "webp": ("WEBP", (70, 90))}


def _encode(rng: np.random.Generator, im: Image.Image, transforms: list[str]) -> tuple[bytes, str]:
    buf = io.BytesIO()
    chosen = next((t for t in transforms if t in _ENCODING), None)
    if chosen is None:
        im.save(buf, format="JPEG", quality=int(rng.integers(80, 96)))
        return buf.getvalue(), "jpg"
    fmt, quality = _ENCODING[chosen]
    if quality:
        im.save(buf, format=fmt, quality=int(rng.integers(*quality)))
    else:
        im.save(buf, format=fmt)
    return buf.getvalue(), {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}[fmt]


def original_boxes(rng: np.random.Generator, h: int, w: int, count: int) -> Iterator[tuple[int, int, int, int]]:
    """Up to `count` crop boxes (top, left, bottom, right) of 30-80% of each side of an h x w
    picture, pairwise IoU < 0.3 (200 draws each, else skipped). Drawn lazily: the caller's own
    draws between two boxes come from the same `rng`, in the order the corpora were made."""
    boxes: list[tuple[int, int, int, int]] = []
    for _ in range(count):
        for _attempt in range(200):
            ch, cw = int(h * rng.uniform(0.3, 0.8)), int(w * rng.uniform(0.3, 0.8))
            y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
            box = (y0, x0, y0 + ch, x0 + cw)
            if all(_iou(box, b) < 0.3 for b in boxes):
                break
        else:
            continue
        boxes.append(box)
        yield box


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ih = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iw = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ih * iw
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def build(root: Path, *, seed: int = 1, originals_per_source: int = 4, pairs_per_original: int = 3) -> pl.DataFrame:
    """Write the corpus under ``root`` and return its table (see the module's docstring)."""
    rng = np.random.default_rng(seed)
    rows = []
    root.mkdir(parents=True, exist_ok=True)
    for photo in sources.library():
        if photo.kind == "paper":
            continue
        arr, half = photo.array, half_of(photo.name)
        h, w = arr.shape[:2]
        for number, box in enumerate(original_boxes(rng, h, w, originals_per_source), 1):
            original = Image.fromarray(arr[box[0] : box[2], box[1] : box[3]])
            long_side = int(rng.integers(200, 801))
            scale = min(1.0, long_side / max(original.size))
            original = original.resize(
                (max(8, round(original.width * scale)), max(8, round(original.height * scale))),
                Image.Resampling.LANCZOS,
            )
            ident = f"{photo.name}#{number}"
            plans = (
                [["original"]]
                + [[t] for t in TRANSFORMS]
                + [list(rng.choice(GOAL_TRANSFORMS, 2, replace=False)) for _ in range(pairs_per_original)]
            )
            for plan in plans:
                im = original
                for t in plan:
                    if t != "original":
                        im = TRANSFORMS[t](rng, im)
                data, ext = _encode(rng, im, plan)
                name = "+".join(plan)
                path = root / half / f"{len(rows):06d}_{name}.{ext}"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                rows.append((str(path), photo.name, photo.kind, half, ident, name, *box))
    schema = ["path", "source", "source_kind", "half", "original", "transform", "top", "left", "bottom", "right"]
    return pl.DataFrame(rows, schema=schema, orient="row")


def true_pair(table: pl.DataFrame) -> Callable[[str, str], bool]:
    """A function telling whether two paths of `table` are a true pair (strict)."""
    info = {
        r[0]: r[1:] for r in table.select("path", "source", "original", "top", "left", "bottom", "right").iter_rows()
    }

    def judge(a: str, b: str) -> bool:
        sa, oa, *ba = info[a]
        sb, ob, *bb = info[b]
        return oa == ob or (sa == sb and _iou(tuple(ba), tuple(bb)) >= 0.5)

    return judge
