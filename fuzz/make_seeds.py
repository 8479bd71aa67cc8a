#!/usr/bin/env python3
"""Generate the seed corpora of the fuzz targets into fuzz/corpus/<target>/ (never committed).

Small valid files of every format, cut from the project's real photos
(`recipe_audit.examples.photo_sources`, the same pictures `make_photo_corpus` crops), encoded by
Pillow (plus a tiny PNG writer here for what Pillow cannot write: Adam7 interlacing, 16-bit
colour), then truncations and bit flips of each. Deterministic: the same seeds every run.

    python fuzz/make_seeds.py            # from the repository root, with recipe_audit importable
"""
from __future__ import annotations

import hashlib
import io
import random
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from recipe_audit.examples import photo_sources

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
MAX_LEN = 60_000  # the targets run with -max_len=65536

RNG = random.Random(9)
SOURCES = dict(photo_sources())


def photo(name: str, w: int, h: int, mode: str = "RGB") -> Image.Image:
    arr = SOURCES[name]
    H, W = arr.shape[:2]
    im = Image.fromarray(arr).convert("RGB")
    # A centred crop with the target aspect ratio, resized down.
    scale = min(W / w, H / h)
    cw, ch = int(w * scale), int(h * scale)
    left, top = (W - cw) // 2, (H - ch) // 2
    return im.crop((left, top, left + cw, top + ch)).resize((w, h), Image.LANCZOS).convert(mode)


def save(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def exif_bytes(orientation: int) -> bytes:
    ex = Image.Exif()
    ex[0x0112] = orientation
    return ex.tobytes()


# ---- a minimal PNG writer for interlaced and 16-bit colour files -------------------------------

def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png(arr: np.ndarray, color_type: int, interlace: bool) -> bytes:
    """arr: HxWxC uint8 or uint16 (big-endian samples are written)."""
    if arr.ndim == 2:
        arr = arr[:, :, None]
    h, w, _ = arr.shape
    depth = 16 if arr.dtype == np.uint16 else 8
    data = arr.astype(">u2").tobytes() if depth == 16 else arr.tobytes()
    row_bytes = w * arr.shape[2] * depth // 8

    def scanlines(sub: np.ndarray) -> bytes:
        raw = sub.astype(">u2").tobytes() if depth == 16 else sub.tobytes()
        n = sub.shape[1] * sub.shape[2] * depth // 8
        return b"".join(b"\x00" + raw[i * n:(i + 1) * n] for i in range(sub.shape[0]))

    if interlace:
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        raw = b"".join(scanlines(arr[y0::dy, x0::dx]) for x0, y0, dx, dy in passes if arr[y0::dy, x0::dx].size)
    else:
        raw = b"".join(b"\x00" + data[i * row_bytes:(i + 1) * row_bytes] for i in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 1 if interlace else 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")


# ---- the valid files ---------------------------------------------------------------------------

def jpegs() -> dict[str, bytes]:
    out = {}
    rgb = photo("astronaut", 96, 72)
    out["baseline.jpg"] = save(rgb, "JPEG", quality=80)
    out["progressive.jpg"] = save(rgb, "JPEG", quality=80, progressive=True)
    out["gray.jpg"] = save(photo("camera", 80, 64, "L"), "JPEG", quality=85)
    out["s444.jpg"] = save(photo("coffee", 64, 48), "JPEG", quality=90, subsampling=0)
    out["s422.jpg"] = save(photo("coffee", 64, 48), "JPEG", quality=90, subsampling=1)
    out["cmyk.jpg"] = save(photo("chelsea", 48, 40, "CMYK"), "JPEG", quality=80)
    out["tiny.jpg"] = save(photo("rocket", 8, 8), "JPEG", quality=50)
    out["odd.jpg"] = save(photo("rocket", 17, 33), "JPEG", quality=70)
    for o in range(2, 9):
        out[f"exif_o{o}.jpg"] = save(photo("chelsea", 40, 24), "JPEG", quality=70, exif=exif_bytes(o))
    # Sizes that reach every DCT scale (min side 64: 1/2 at >=128, 1/4 at >=256, 1/8 at >=512).
    out["scale2.jpg"] = save(photo("coins", 160, 130, "L"), "JPEG", quality=40)
    out["scale4.jpg"] = save(photo("moon", 300, 260, "L"), "JPEG", quality=20)
    out["scale8.jpg"] = save(photo("camera", 520, 512, "L"), "JPEG", quality=8)
    out["scale8_exif6.jpg"] = save(photo("flower", 520, 512), "JPEG", quality=5, exif=exif_bytes(6))
    try:
        out["restart.jpg"] = save(rgb, "JPEG", quality=80, restart_marker_blocks=4)
    except (TypeError, ValueError, OSError):
        pass
    out["trailing.jpg"] = out["baseline.jpg"] + b"trailing bytes after EOI"
    out["comment.jpg"] = save(rgb, "JPEG", quality=60, comment=b"a comment segment")
    return out


def pngs() -> dict[str, bytes]:
    out = {}
    out["gray.png"] = save(photo("camera", 48, 40, "L"), "PNG")
    out["gray_alpha.png"] = save(photo("camera", 40, 32, "LA"), "PNG")
    out["rgb.png"] = save(photo("astronaut", 48, 36), "PNG")
    out["rgba.png"] = save(photo("astronaut", 40, 32, "RGBA"), "PNG")
    out["palette.png"] = save(photo("chelsea", 48, 40).convert("P"), "PNG", transparency=0)
    out["bilevel.png"] = save(photo("text", 96, 40, "1"), "PNG")
    out["gray16.png"] = save(photo("moon", 40, 40, "L").convert("I;16"), "PNG")
    out["exif6.png"] = save(photo("coffee", 40, 24), "PNG", exif=exif_bytes(6))
    out["reduce2.png"] = save(photo("grass", 130, 130, "L").quantize(16).convert("L"), "PNG", optimize=True)
    arr = np.asarray(photo("rocket", 33, 21))
    out["interlaced_rgb.png"] = write_png(arr, 2, True)
    out["interlaced_gray.png"] = write_png(np.asarray(photo("clock", 27, 19, "L")), 0, True)
    rgba = np.asarray(photo("flower", 24, 18, "RGBA"))
    out["rgba16.png"] = write_png(rgba.astype(np.uint16) * 257, 6, False)
    out["rgb16_interlaced.png"] = write_png(arr[:12, :14].astype(np.uint16) * 257, 2, True)
    return out


def gifs() -> dict[str, bytes]:
    out = {}
    frames = [photo(n, 40, 32).convert("P", palette=Image.ADAPTIVE, colors=32) for n in ("astronaut", "chelsea", "coffee")]
    out["anim.gif"] = save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    # Frames that differ only in a corner: Pillow writes sub-rectangles (frame offsets).
    base = photo("rocket", 48, 40)
    moved = base.copy()
    moved.paste(photo("coins", 12, 10), (30, 25))
    out["subrect.gif"] = save(base.convert("P"), "GIF", save_all=True, append_images=[moved.convert("P")], duration=80)
    out["single.gif"] = save(photo("camera", 32, 24, "L"), "GIF")
    out["transparent.gif"] = save(frames[1], "GIF", transparency=0)
    out["interlaced.gif"] = save(frames[2], "GIF", interlace=True)
    out["gif87a.gif"] = b"GIF87a" + save(photo("moon", 16, 16, "L"), "GIF")[6:]
    return out


def others() -> dict[str, bytes]:
    out = {}
    rgb = photo("astronaut", 48, 36)
    out["lossy.webp"] = save(rgb, "WEBP", quality=60)
    out["lossless.webp"] = save(photo("chelsea", 32, 24), "WEBP", lossless=True)
    out["alpha.webp"] = save(photo("coffee", 32, 24, "RGBA"), "WEBP", quality=70)
    out["exif8.webp"] = save(rgb, "WEBP", quality=50, exif=exif_bytes(8))
    frames = [photo(n, 24, 16) for n in ("rocket", "flower")]
    out["anim.webp"] = save(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=40, quality=50)
    out["rgb.bmp"] = save(photo("rocket", 40, 30), "BMP")
    out["gray.bmp"] = save(photo("camera", 33, 20, "L"), "BMP")
    out["palette.bmp"] = save(photo("chelsea", 30, 20).convert("P"), "BMP")
    out["bilevel.bmp"] = save(photo("text", 40, 16, "1"), "BMP")
    out["rgba.bmp"] = save(photo("coffee", 20, 16, "RGBA"), "BMP")
    out["raw.tiff"] = save(photo("rocket", 32, 24), "TIFF")
    out["gray.tiff"] = save(photo("camera", 32, 24, "L"), "TIFF")
    out["rgba_lzw.tiff"] = save(photo("flower", 24, 20, "RGBA"), "TIFF", compression="tiff_lzw")
    out["deflate.tiff"] = save(photo("coins", 32, 24, "L"), "TIFF", compression="tiff_adobe_deflate")
    out["packbits.tiff"] = save(photo("clock", 32, 24, "L"), "TIFF", compression="packbits")
    out["gray16.tiff"] = save(photo("moon", 20, 20, "L").convert("I;16"), "TIFF")
    out["bilevel.tiff"] = save(photo("text", 48, 16, "1"), "TIFF")
    out["orient6.tiff"] = save(photo("chelsea", 24, 16), "TIFF", tiffinfo={274: 6})
    try:
        big = save(photo("coffee", 16, 12), "TIFF", big_endian=True)
        if big.startswith(b"MM"):
            out["bigendian.tiff"] = big
    except (TypeError, ValueError, OSError):
        pass
    pages = [photo(n, 16, 12) for n in ("rocket", "coins")]
    out["multipage.tiff"] = save(pages[0], "TIFF", save_all=True, append_images=pages[1:])
    return out


def exif_blobs(files: dict[str, bytes]) -> dict[str, bytes]:
    out = {}
    for o in range(1, 9):
        blob = exif_bytes(o)
        out[f"tiff_o{o}.bin"] = blob[6:] if blob.startswith(b"Exif\0\0") else blob
        out[f"app1_o{o}.bin"] = blob if blob.startswith(b"Exif\0\0") else b"Exif\0\0" + blob
    ex = Image.Exif()
    ex[0x0112] = 3
    ex[0x010F] = "Camera maker"
    ex[0x0110] = "Model"
    ex[0x0131] = "software"
    out["many_tags.bin"] = ex.tobytes()
    # Big-endian IFD by hand: 2 entries, orientation second.
    be = b"MM\0*" + struct.pack(">I", 8) + struct.pack(">H", 2)
    be += struct.pack(">HHIHH", 0x0100, 3, 1, 640, 0) + struct.pack(">HHIHH", 0x0112, 3, 1, 5, 0) + b"\0\0\0\0"
    out["bigendian.bin"] = be
    # The APP1 payload of every JPEG seed that has one.
    for name, data in files.items():
        i = data.find(b"Exif\0\0")
        if name.endswith(".jpg") and i > 0:
            length = struct.unpack(">H", data[i - 2:i])[0]
            out[f"from_{name}.bin"] = data[i:i - 2 + length]
    return out


# ---- mutations ---------------------------------------------------------------------------------

def variants(name: str, data: bytes, flips: int = 4) -> dict[str, bytes]:
    out = {name: data}
    n = len(data)
    cuts = sorted({8, 16, 32, n // 4, n // 2, (3 * n) // 4, n - 2, n - 1})
    for cut in cuts:
        if 0 < cut < n:
            out[f"{name}.cut{cut}"] = data[:cut]
    for k in range(flips if n else 0):
        b = bytearray(data)
        pos = RNG.randrange(n)
        b[pos] ^= 1 << RNG.randrange(8)
        out[f"{name}.flip{k}_{pos}"] = bytes(b)
    return out


def write(target: str, files: dict[str, bytes], flips: int = 4) -> int:
    folder = CORPUS / target
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    count = 0
    for name, data in files.items():
        for vname, vdata in variants(name, data, flips).items():
            if len(vdata) > MAX_LEN:
                continue
            # libFuzzer names corpus files by content hash; a readable prefix helps people.
            (folder / f"{vname}-{hashlib.sha1(vdata).hexdigest()[:8]}").write_bytes(vdata)
            count += 1
    return count


def main() -> None:
    j, p, g, o = jpegs(), pngs(), gifs(), others()
    everything = {**j, **p, **g, **o}
    too_big = {k: len(v) for k, v in everything.items() if len(v) > MAX_LEN}
    if too_big:
        raise SystemExit(f"seed files over {MAX_LEN} bytes: {too_big}")
    counts = {
        "jpeg": write("jpeg", j),
        "png": write("png", p),
        "gif": write("gif", g),
        "otherdec": write("otherdec", o),
        "exif": write("exif", exif_blobs(j)),
        # Sniffing only reads the front: the first 64 bytes of each valid file and its cuts.
        "sniff": write("sniff", {k: v[:64] for k, v in everything.items()}),
        # The pipeline gets every valid file with fewer mutations (the decoder targets have more).
        "pipeline": write("pipeline", {**everything, "empty.bin": b"", "text.txt": b"not an image at all\n"}, flips=1),
    }
    for target, n in counts.items():
        print(f"{target:9s} {n:4d} seeds")
    print("largest valid seed:", max(everything, key=lambda k: len(everything[k])), max(map(len, everything.values())), "bytes")


if __name__ == "__main__":
    main()
