"""A corpus for judging the outlier flags held out: ordinary pictures from many real sources, and
planted faults, each file tagged with its source photograph and its half (tuning or held-out).

    from outlier_corpus import build
    table = build(Path("/tmp/outliers"), seed=1, per_source=12)

Sources are every picture of `recipe_audit.examples.photo_library` (scikit-image, scikit-learn,
matplotlib, and Debian's artwork packages when installed: photographs, illustrations, paper
textures). Each source photograph belongs to one half, chosen by a hash of its name (variants of one
picture, such as GNOME's ``-d`` / ``-l`` pairs, share a half), so thresholds fitted on one half never
saw the other half's photographs. Nothing is fitted here: the split is fixed before any measurement.

Kinds (``kind`` column); ``ordinary*`` must carry no flag, ``planted:*`` must carry their flag.
Planted faults are made from photographs only (blurring a blank paper texture plants nothing).

- ``ordinary``: random crops (30-100% of each side, long side 200-800 px, never enlarged) of colour sources, saved
  as JPEG q60-95 (15% PNG, 10% WebP);
- ``ordinary_gray``: the same from gray sources (a gray photograph, micrograph or scanned page,
  stored as RGB): every flag but ``grayscale`` counts as false;
- ``ordinary_flat``: the flattest of 12 small random crops (15-35% of each side) of a source, resized to
  a long side of 200-800 px, never enlarged: sky, sea, walls, out-of-focus backgrounds, paper;
- ``ordinary_fog``: a crop blended 40-70% with a light gray (fog, haze: little contrast, edges kept);
- ``ordinary_night``: a crop under a steep gamma (dark overall, highlights kept);
- ``ordinary_text``: a page of rendered text (DejaVu / Liberation fonts, 9-22 px) on paper colour;
- ``planted:<flag>``: ``dark`` (luma x0.05-0.12), ``bright`` (255 - (255 - v) x 0.05-0.15),
  ``blurry`` (Gaussian of radius 1-2% of the long side), ``grayscale`` (a colour crop
  stored as RGB with R = G = B), ``low_information`` (one colour plus noise of sigma 0-1.5, and black
  and white frames), ``odd_size`` (8-16 px), ``odd_aspect`` (about 25:1); ``planted:upscaled``
  (a 10-20% crop enlarged to 600-800 px, 3-10x: soft, reported for ``blurry`` but not a goal).
"""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import numpy as np
import polars as pl
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from recipe_audit.examples import Photo

import benches.studies.sources as sources

PLANTED = ("dark", "bright", "blurry", "grayscale", "low_information", "odd_size", "odd_aspect", "upscaled")
ORDINARY = ("ordinary", "ordinary_gray", "ordinary_flat", "ordinary_fog", "ordinary_night", "ordinary_text")
_FONTS = sorted(Path("/usr/share/fonts/truetype").rglob("*.ttf"))


def half_of(name: str) -> str:
    """``tuning`` or ``heldout``: a fixed hash of the source's name, variants of a picture together."""
    group = re.sub(r"(-[dl]|_Portrait| 0\d)$", "", name)
    return "tuning" if hashlib.sha256(group.encode()).digest()[0] % 2 == 0 else "heldout"


def _crop(rng: np.random.Generator, arr: np.ndarray, lo: float, hi: float) -> np.ndarray:
    h, w = arr.shape[:2]
    ch, cw = max(8, int(h * rng.uniform(lo, hi))), max(8, int(w * rng.uniform(lo, hi)))
    y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    return arr[y0 : y0 + ch, x0 : x0 + cw]


def _sized(arr: np.ndarray, long_side: int, upscale: bool = False) -> Image.Image:
    """Resized so the long side is ``long_side``, never enlarged unless ``upscale`` (an enlarged
    crop is soft: a blur the generator would plant by accident)."""
    im = Image.fromarray(arr)
    scale = long_side / max(im.size)
    if not upscale:
        scale = min(scale, 1.0)
    return im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.Resampling.LANCZOS)


def _ordinary(rng: np.random.Generator, photo: Photo) -> Image.Image:
    return _sized(_crop(rng, photo.array, 0.3, 1.0), int(rng.integers(200, 801)))


def _encode(rng: np.random.Generator, im: Image.Image, formats: bool = True) -> tuple[bytes, str]:
    buf = io.BytesIO()
    roll = rng.random() if formats else 1.0
    if roll < 0.15:
        im.save(buf, format="PNG")
        return buf.getvalue(), "png"
    if roll < 0.25:
        im.save(buf, format="WEBP", quality=int(rng.integers(70, 95)))
        return buf.getvalue(), "webp"
    im.save(buf, format="JPEG", quality=int(rng.integers(60, 96)))
    return buf.getvalue(), "jpg"


def _text_page(rng: np.random.Generator) -> Image.Image:
    w, h = int(rng.integers(300, 801)), int(rng.integers(300, 801))
    paper = tuple(int(v) for v in rng.integers(225, 256, 3))
    im = Image.new("RGB", (w, h), paper)
    draw = ImageDraw.Draw(im)
    size = int(rng.integers(9, 23))
    font = ImageFont.truetype(str(_FONTS[int(rng.integers(len(_FONTS)))]), size) if _FONTS else None
    words = "the recipe says become one with the data before any model look at every picture".split()
    ink = tuple(int(v) for v in rng.integers(0, 90, 3))
    y = int(rng.integers(10, 60))
    while y < h - size - 10:
        line = " ".join(words[int(i)] for i in rng.integers(0, len(words), 14))
        draw.text((int(rng.integers(10, 40)), y), line, fill=ink, font=font)
        y += int(size * rng.uniform(1.3, 2.2))
    return im


def _planted(rng: np.random.Generator, kind: str, photo: Photo) -> Image.Image:
    if kind == "odd_size":
        return _sized(_crop(rng, photo.array, 0.3, 1.0), int(rng.integers(8, 17)))
    if kind == "upscaled":
        return _sized(_crop(rng, photo.array, 0.1, 0.2), int(rng.integers(600, 801)), upscale=True)
    if kind == "odd_aspect":
        long_side = int(rng.integers(500, 1201))
        short = max(8, round(long_side / rng.uniform(20, 30)))
        arr = _crop(rng, photo.array, 0.5, 1.0)
        im = Image.fromarray(arr).resize((long_side, short), Image.Resampling.LANCZOS)
        return im if rng.random() < 0.5 else im.transpose(Image.Transpose.ROTATE_90)
    if kind == "low_information":
        w, h = int(rng.integers(200, 801)), int(rng.integers(200, 801))
        roll = rng.random()
        color = np.array([0, 0, 0] if roll < 0.25 else [255, 255, 255] if roll < 0.5 else rng.integers(0, 256, 3))
        noise = rng.normal(0, rng.uniform(0, 1.5), (h, w, 1))
        return Image.fromarray(np.clip(color + noise, 0, 255).astype(np.uint8))
    im = _ordinary(rng, photo)
    if kind == "dark":
        f = rng.uniform(0.05, 0.12)
        return Image.eval(im, lambda v: int(v * f))
    if kind == "bright":
        f = rng.uniform(0.05, 0.15)
        return Image.eval(im, lambda v: 255 - int((255 - v) * f))
    if kind == "blurry":
        return im.filter(ImageFilter.GaussianBlur(max(im.size) * rng.uniform(0.01, 0.02)))
    if kind == "grayscale":
        return im.convert("L").convert("RGB")
    raise ValueError(kind)


def _ordinary_kind(rng: np.random.Generator, kind: str, photo: Photo) -> Image.Image:
    if kind in ("ordinary", "ordinary_gray"):
        return _ordinary(rng, photo)
    if kind == "ordinary_flat":
        crops = [_crop(rng, photo.array, 0.15, 0.35) for _ in range(12)]
        flattest = min(crops, key=lambda c: float(c.std()))
        return _sized(flattest, int(rng.integers(200, 801)))
    if kind == "ordinary_fog":
        im = np.asarray(_ordinary(rng, photo), dtype=np.float64)
        a = rng.uniform(0.4, 0.7)
        return Image.fromarray(np.clip(im * (1 - a) + a * rng.uniform(180, 235), 0, 255).astype(np.uint8))
    if kind == "ordinary_night":
        im = np.asarray(_ordinary(rng, photo), dtype=np.float64) / 255
        return Image.fromarray((255 * im ** rng.uniform(2.2, 3.5)).astype(np.uint8))
    if kind == "ordinary_text":
        return _text_page(rng)
    raise ValueError(kind)


def build(root: Path, *, seed: int = 1, per_source: int = 10, planted_per_kind: int = 40) -> pl.DataFrame:
    """Write the corpus under ``root/<half>/<kind>/`` and return ``path``, ``source``, ``source_kind``
    (`Photo.kind` of the source: photo, art or paper; ``text`` for rendered pages), ``half``, ``kind``.

    Per source: ``per_source`` ordinary crops (``ordinary`` or ``ordinary_gray``), and one each of
    flat, fog and night; per half ``planted_per_kind`` of each planted kind and 20 text pages.
    """
    rng = np.random.default_rng(seed)
    library = sources.library()
    kinds = {p.name: p.kind for p in library}
    rows: list[tuple[str, str, str, str, str]] = []

    def put(im: Image.Image, half: str, kind: str, source: str, formats: bool = True) -> None:
        data, ext = _encode(rng, im, formats)
        path = root / half / kind / f"{kind.replace(':', '_')}_{len(rows):05d}.{ext}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        rows.append((str(path), source, kinds.get(source, "text"), half, kind))

    for photo in library:
        half = half_of(photo.name)
        base = "ordinary_gray" if photo.gray else "ordinary"
        for _ in range(per_source):
            put(_ordinary_kind(rng, base, photo), half, base, photo.name)
        for kind in ("ordinary_flat", "ordinary_fog", "ordinary_night"):
            put(_ordinary_kind(rng, kind, photo), half, kind, photo.name)
    for half in ("tuning", "heldout"):
        colour = [p for p in library if half_of(p.name) == half and not p.gray and p.kind == "photo"]
        for _ in range(20):
            put(_text_page(rng), half, "ordinary_text", "text")
        for kind in PLANTED:
            for _ in range(planted_per_kind):
                photo = colour[int(rng.integers(len(colour)))]
                put(_planted(rng, kind, photo), half, f"planted:{kind}", photo.name, formats=kind != "odd_size")
    return pl.DataFrame(rows, schema=["path", "source", "source_kind", "half", "kind"], orient="row")


def build_blur_curve(root: Path, *, seed: int = 2, per_radius: int = 30, half: str = "heldout") -> pl.DataFrame:
    """Blurred crops of one half's photographs at radii of 0.25-3% of the long side, to draw the
    recall curve: ``path``, ``source``, ``radius`` (share of the long side)."""
    rng = np.random.default_rng(seed)
    photos = [p for p in sources.library() if half_of(p.name) == half and not p.gray and p.kind == "photo"]
    rows = []
    for radius in (0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03):
        for _ in range(per_radius):
            photo = photos[int(rng.integers(len(photos)))]
            im = _ordinary(rng, photo)
            data, ext = _encode(rng, im.filter(ImageFilter.GaussianBlur(max(im.size) * radius)))
            path = root / f"blur_{radius:.4f}_{len(rows):05d}.{ext}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            rows.append((str(path), photo.name, radius))
    return pl.DataFrame(rows, schema=["path", "source", "radius"], orient="row")
