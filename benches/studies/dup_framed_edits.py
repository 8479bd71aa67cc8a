"""Near duplicates framed or overlaid the way people share pictures: a caption band, a screenshot's
window, a corner sticker, a vignette, padding to a square. Recall per edit and strict precision.

    python -m benches.studies.dup_framed_edits --seed 111 --half tuning [--dir /tmp/dup_framed111]

Originals are made as `dup_corpus.build` makes them (per colour photograph of ``--half``, 4 crops
of 30-80% of each side with pairwise IoU < 0.3, long side 200-800 px). Per original, one copy per
edit, parameters drawn per copy, saved as JPEG q80-95:

- ``caption``: a band of 10-22% of the picture's height added above or below (one side), white,
  black or any colour, with one or two lines of text in a contrasting shade;
- ``caption_both``: bands above and below (a meme's two lines), 8-15% each;
- ``screenshot``: the picture inside an application window: a title bar (5-9% of the height, light
  or dark, with a title and three buttons), a 1-4 px frame, and on 0-8% of each side a plain desktop;
- ``sticker``: a filled disc or rounded square of 15-30% of the shorter side at a corner, with a
  symbol on it;
- ``vignette``: darkened towards the corners by 30-70%;
- ``pad_plain``: padded to a square with the picture's mean colour;
- ``pad_blurred``: padded to a square over a blurred, enlarged copy of itself (a feed's fill);
- two controls (``control:crop``, ``control:rotate``): the goal edits, to see that nothing is lost.

Prints recall per edit and the pairwise precision of the groups (`dup_unseen_edits.judge`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from benches.studies.dup_aspect_crops import copies_parser, recall_table, searched, write_copies
from benches.studies.dup_corpus import TRANSFORMS
from benches.studies.dup_unseen_edits import judge

_FONTS = sorted(Path("/usr/share/fonts/truetype").rglob("*.ttf"))
_WORDS = "when you see it the data was fine until monday nobody reads captions anyway look at this view".split()

Framed = Callable[[np.random.Generator, Image.Image], tuple[Image.Image, str]]


def _font(rng: np.random.Generator, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if not _FONTS:
        return ImageFont.load_default()
    return ImageFont.truetype(str(_FONTS[int(rng.integers(len(_FONTS)))]), max(6, size))


def _shade(rng: np.random.Generator) -> tuple[int, int, int]:
    roll = rng.random()
    if roll < 0.4:
        return (255, 255, 255)
    if roll < 0.7:
        return (0, 0, 0)
    return tuple(int(v) for v in rng.integers(0, 256, 3))  # type: ignore[return-value]


def _ink(paper: tuple[int, int, int]) -> tuple[int, int, int]:
    return (0, 0, 0) if sum(paper) > 384 else (255, 255, 255)


def _text_band(rng: np.random.Generator, width: int, height: int, lines: int) -> Image.Image:
    paper = _shade(rng)
    band = Image.new("RGB", (width, height), paper)
    draw = ImageDraw.Draw(band)
    size = int(height / lines * rng.uniform(0.45, 0.7))
    font = _font(rng, size)
    for i in range(lines):
        text = " ".join(str(w) for w in rng.choice(_WORDS, int(rng.integers(2, 7))))
        x = int(rng.uniform(0.02, 0.3) * width)
        y = int((i + 0.5) * height / lines - size * 0.6)
        draw.text((x, y), text, fill=_ink(paper), font=font)
    return band


def _caption(rng: np.random.Generator, im: Image.Image) -> tuple[Image.Image, str]:
    w, h = im.size
    share = float(rng.uniform(0.10, 0.22))
    band = _text_band(rng, w, max(8, round(h * share)), int(rng.integers(1, 3)))
    out = Image.new("RGB", (w, h + band.height))
    top = rng.random() < 0.5
    out.paste(band, (0, 0 if top else h))
    out.paste(im, (0, band.height if top else 0))
    return out, f"share={share:.3f} top={int(top)}"


def _caption_both(rng: np.random.Generator, im: Image.Image) -> tuple[Image.Image, str]:
    w, h = im.size
    a, b = (float(rng.uniform(0.08, 0.15)) for _ in range(2))
    above, below = _text_band(rng, w, max(8, round(h * a)), 1), _text_band(rng, w, max(8, round(h * b)), 1)
    out = Image.new("RGB", (w, h + above.height + below.height))
    out.paste(above, (0, 0))
    out.paste(im, (0, above.height))
    out.paste(below, (0, above.height + h))
    return out, f"share={a + b:.3f}"


def _screenshot(rng: np.random.Generator, im: Image.Image) -> tuple[Image.Image, str]:
    w, h = im.size
    light = rng.random() < 0.6
    bar_colour = tuple(int(v) for v in (rng.integers(215, 246, 3) if light else rng.integers(30, 70, 3)))
    bar = max(10, round(h * rng.uniform(0.05, 0.09)))
    frame = int(rng.integers(1, 5))
    frame_colour = tuple(int(v) * 3 // 4 for v in bar_colour)
    margins = [round(s * rng.uniform(0.0, 0.08)) for s in (w, h, w, h)]  # left, top, right, bottom
    desktop = tuple(int(v) for v in rng.integers(0, 256, 3))
    win_w, win_h = w + 2 * frame, h + bar + 2 * frame
    out = Image.new("RGB", (win_w + margins[0] + margins[2], win_h + margins[1] + margins[3]), desktop)
    draw = ImageDraw.Draw(out)
    x0, y0 = margins[0], margins[1]
    draw.rectangle((x0, y0, x0 + win_w - 1, y0 + win_h - 1), fill=frame_colour)
    draw.rectangle((x0 + frame, y0 + frame, x0 + win_w - frame - 1, y0 + frame + bar - 1), fill=bar_colour)
    ink = _ink(bar_colour)  # type: ignore[arg-type]
    title = " ".join(str(t) for t in rng.choice(_WORDS, 3)) + ".jpg - Viewer"
    draw.text((x0 + frame + bar, y0 + frame + bar // 4), title, fill=ink, font=_font(rng, bar // 2))
    r = max(2, bar // 4)
    for i in range(3):
        cx = x0 + win_w - frame - (i + 1) * 3 * r
        draw.ellipse((cx - r, y0 + frame + bar // 2 - r, cx + r, y0 + frame + bar // 2 + r), fill=ink)
    out.paste(im, (x0 + frame, y0 + frame + bar))
    return out, f"bar={bar / h:.3f} frame={frame} margin={max(margins[0] / w, margins[1] / h):.3f}"


def _sticker(rng: np.random.Generator, im: Image.Image) -> tuple[Image.Image, str]:
    w, h = im.size
    share = float(rng.uniform(0.15, 0.30))
    s = max(6, round(min(w, h) * share))
    pad = round(min(w, h) * rng.uniform(0.0, 0.05))
    x = pad if rng.random() < 0.5 else w - s - pad
    y = pad if rng.random() < 0.5 else h - s - pad
    out = im.copy()
    draw = ImageDraw.Draw(out)
    colour = tuple(int(v) for v in rng.integers(0, 256, 3))
    if rng.random() < 0.5:
        draw.ellipse((x, y, x + s, y + s), fill=colour, outline=(255, 255, 255), width=max(1, s // 20))
    else:
        draw.rounded_rectangle((x, y, x + s, y + s), radius=s // 5, fill=colour)
    symbol = str(rng.choice(["♥", "★", "✓", "!", "?", "@", "#1", "OK"]))
    draw.text((x + s // 4, y + s // 5), symbol, fill=_ink(colour), font=_font(rng, s // 2))  # type: ignore[arg-type]
    return out, f"share={share:.3f}"


def _vignette(rng: np.random.Generator, im: Image.Image) -> tuple[Image.Image, str]:
    w, h = im.size
    strength = float(rng.uniform(0.3, 0.7))
    y, x = np.mgrid[0:h, 0:w]
    r = np.hypot((x - w / 2) / (w / 2), (y - h / 2) / (h / 2)) / np.sqrt(2)
    gain = 1 - strength * r**2
    arr = np.asarray(im.convert("RGB"), dtype=np.float32) * gain[:, :, None]
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8)), f"strength={strength:.2f}"


def _square(im: Image.Image, background: Image.Image) -> Image.Image:
    w, h = im.size
    out = background
    out.paste(im, ((out.width - w) // 2, (out.height - h) // 2))
    return out


def _pad_plain(rng: np.random.Generator, im: Image.Image) -> tuple[Image.Image, str]:
    side = max(im.size)
    mean = tuple(int(v) for v in np.asarray(im.convert("RGB")).reshape(-1, 3).mean(axis=0))
    return _square(im, Image.new("RGB", (side, side), mean)), f"fill={1 - im.width * im.height / side**2:.3f}"


def _pad_blurred(rng: np.random.Generator, im: Image.Image) -> tuple[Image.Image, str]:
    side = max(im.size)
    scale = side / min(im.size)
    big = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.BILINEAR)
    left, top = (big.width - side) // 2, (big.height - side) // 2
    background = big.crop((left, top, left + side, top + side)).filter(ImageFilter.GaussianBlur(side * 0.04))
    return _square(im, background), f"fill={1 - im.width * im.height / side**2:.3f}"


EDITS: dict[str, Framed] = {
    "caption": _caption,
    "caption_both": _caption_both,
    "screenshot": _screenshot,
    "sticker": _sticker,
    "vignette": _vignette,
    "pad_plain": _pad_plain,
    "pad_blurred": _pad_blurred,
}


def _framed_copies(rng: np.random.Generator, original: Image.Image) -> list[tuple[str, Image.Image, str]]:
    copies = [(name, *edit(rng, original)) for name, edit in EDITS.items()]
    return copies + [(f"control:{c}", TRANSFORMS[c](rng, original), "") for c in ("crop", "rotate")]


def build(root: Path, *, seed: int, half: str, originals_per_source: int = 4) -> pl.DataFrame:
    return write_copies(root, seed=seed, half=half, copies_of=_framed_copies, originals_per_source=originals_per_source)


def main() -> None:
    ap = copies_parser(__doc__, "dup_framed")
    ap.add_argument("--missed", default="", help="list the missed copies of these edits (comma-separated)")
    args = ap.parse_args()
    table, files, groups = searched(args, "dup_framed", build)
    recall, pairs = judge(table, groups)
    print(
        f"seed {args.seed}, {args.half} photographs: {table.height} files, {table['original'].n_unique()} originals\n"
    )
    print(recall_table(recall, pairs))
    if args.missed:
        wanted = set(args.missed.split(","))
        group_of = dict(groups.select("path", "group").iter_rows())
        original_path = dict(table.filter(pl.col("edit") == "original").select("original", "path").iter_rows())
        content = dict(files.select("path", pl.struct("content_width", "content_height")).iter_rows())
        print("\nmissed:")
        for row in table.filter(pl.col("edit").is_in(wanted)).iter_rows(named=True):
            g = group_of.get(row["path"])
            if g is None or g != group_of.get(original_path[row["original"]]):
                print(f"  {row['edit']:<12} {row['path']} {row['detail']} content={content.get(row['path'])}")


if __name__ == "__main__":
    main()
