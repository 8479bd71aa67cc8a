"""The scan's picture measures against references computed here: colourfulness (Hasler-Süsstrunk in
NumPy), luma percentiles, and sharpness on photographs before and after a real blur."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from PIL import Image, ImageFilter

import recipe_audit
from recipe_audit import examples


def _hasler(rgb: np.ndarray) -> float:
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.sqrt(rg.var() + yb.var()) + 0.3 * np.sqrt(rg.mean() ** 2 + yb.mean() ** 2))


def _blocks(rgb: np.ndarray, factor: int) -> np.ndarray:
    """Mean over factor x factor blocks (the picture's size divisible by factor here)."""
    h, w = rgb.shape[:2]
    return rgb.astype(np.float64).reshape(h // factor, factor, w // factor, factor, 3).mean(axis=(1, 3))


def _photo(name: str, size: tuple[int, int] = (400, 300)) -> Image.Image:
    arr = dict(examples.photo_sources())[name]
    return Image.fromarray(arr).convert("RGB").resize(size, Image.Resampling.LANCZOS)


def _save(im: Image.Image, path: Path, **kw: object) -> str:
    im.save(path, **kw)
    return str(path)


def _row(files: pl.DataFrame, path: str) -> dict:
    return files.filter(pl.col("path") == path).row(0, named=True)


def test_colorfulness_matches_numpy_and_sees_gray_stored_as_rgb(tmp_path: Path) -> None:
    coffee, astronaut = _photo("coffee"), _photo("astronaut")
    paths = {
        "png": _save(coffee, tmp_path / "coffee.png"),
        "jpeg": _save(coffee, tmp_path / "coffee.jpg", quality=92),
        "jpeg444": _save(astronaut, tmp_path / "astronaut444.jpg", quality=92, subsampling=0),
        "jpeg422": _save(astronaut, tmp_path / "astronaut422.jpg", quality=92, subsampling=1),
        "odd": _save(coffee.resize((333, 251)), tmp_path / "odd_size.jpg", quality=90),
        "gray_rgb_jpeg": _save(coffee.convert("L").convert("RGB"), tmp_path / "gray_rgb.jpg", quality=90),
        "gray_rgb_png": _save(coffee.convert("L").convert("RGB"), tmp_path / "gray_rgb.png"),
        "gray_l": _save(coffee.convert("L"), tmp_path / "gray_l.jpg", quality=90),
        "webp": _save(coffee, tmp_path / "coffee.webp", quality=90),
    }
    files = recipe_audit.scan(list(paths.values()), progress=False)
    got = {k: _row(files, p)["colorfulness"] for k, p in paths.items()}
    # PNG: the stored pixels averaged on the grid the scan reduces to (400x300 -> 4x4 blocks, as
    # a JPEG's DCT scaling would), exactly.
    assert got["png"] == pytest.approx(_hasler(_blocks(np.asarray(coffee), 4)), rel=1e-9)
    # JPEG: from the chroma planes at the decode's scale; close to the measure on the decoded RGB.
    for key in ("jpeg", "jpeg444", "jpeg422", "odd", "webp"):
        with Image.open(paths[key]) as im:
            reference = _hasler(np.asarray(im.convert("RGB")))
        assert got[key] == pytest.approx(reference, rel=0.1), key
    assert got["gray_rgb_png"] == 0.0 and got["gray_l"] == 0.0
    assert got["gray_rgb_jpeg"] < 0.2 < 1.0 < min(got[k] for k in ("png", "jpeg", "jpeg444", "jpeg422", "odd", "webp"))


def test_one_picture_measures_alike_in_every_format(tmp_path: Path) -> None:
    """Colour measured on the same grid whatever the format; an RGB-stored JPEG (Adobe transform
    0, no chroma planes) is decoded to gray as before, not read as planes."""
    rng = np.random.default_rng(0)
    blocks = np.zeros((300, 400, 3), np.uint8)
    for i in range(0, 300, 30):
        for j in range(0, 400, 40):
            blocks[i : i + 30, j : j + 40] = rng.integers(0, 256, 3)
    im = Image.fromarray(blocks)
    paths = {
        "png": _save(im, tmp_path / "b.png"),
        "webp": _save(im, tmp_path / "b.webp", lossless=True),
        "jpeg444": _save(im, tmp_path / "b444.jpg", quality=95, subsampling=0),
        "rgb_jpeg": _save(im, tmp_path / "brgb.jpg", quality=95, subsampling=0, keep_rgb=True),
    }
    files = recipe_audit.scan(list(paths.values()), progress=False)
    rows = {k: _row(files, p) for k, p in paths.items()}
    for key in ("webp", "jpeg444", "rgb_jpeg"):
        assert abs(rows[key]["mean"] - rows["png"]["mean"]) < 2, key
        assert bin(rows[key]["phash"] ^ rows["png"]["phash"]).count("1") <= 4, key
    for key in ("webp", "jpeg444"):
        assert rows[key]["colorfulness"] == pytest.approx(rows["png"]["colorfulness"], rel=0.1), key


def test_planar_jpeg_decode_keeps_the_verdicts(tmp_path: Path) -> None:
    """Reading the chroma planes changes no verdict: a cut colour JPEG is still truncated. (The luma
    plane is the gray decode's picture: the imagehash parity tests in test_scan_hashes.py hold.)"""
    coffee = _photo("coffee", (333, 251))
    colour = _save(coffee, tmp_path / "colour.jpg", quality=90)
    data = Path(colour).read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 2])
    files = recipe_audit.scan([colour, str(cut)], progress=False)
    assert _row(files, str(cut))["status"] == "truncated"
    assert _row(files, colour)["status"] == "ok" and _row(files, colour)["colorfulness"] > 1


def test_luma_percentiles(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(30, 220, (80, 100), dtype=np.uint8)  # small: the scan keeps every pixel
    path = _save(Image.fromarray(pixels), tmp_path / "noise.png")
    row = _row(recipe_audit.scan([path], progress=False), path)
    assert row["luma_p01"] == int(np.percentile(pixels, 1, method="inverted_cdf"))
    assert row["luma_p99"] == int(np.percentile(pixels, 99, method="inverted_cdf"))
    assert row["luma_p999"] == int(np.percentile(pixels, 99.9, method="inverted_cdf"))


@pytest.mark.parametrize("name", ["astronaut", "chelsea", "coffee", "rocket", "motorcycle"])
def test_sharpness_falls_with_a_real_blur_and_flat_pictures_get_none(tmp_path: Path, name: str) -> None:
    photo = _photo(name, (640, 480))
    sharp = _save(photo, tmp_path / "sharp.jpg", quality=90)
    blurred = _save(photo.filter(ImageFilter.GaussianBlur(640 * 0.02)), tmp_path / "blurred.jpg", quality=90)
    flat = _save(Image.new("RGB", (640, 480), (90, 140, 200)), tmp_path / "flat.jpg", quality=90)
    gradient = np.tile(np.linspace(0, 255, 640, dtype=np.uint8), (480, 1))
    ramp = _save(Image.fromarray(gradient).convert("RGB"), tmp_path / "ramp.png")
    files = recipe_audit.scan([sharp, blurred, flat, ramp], progress=False)
    s, b = _row(files, sharp)["sharpness"], _row(files, blurred)["sharpness"]
    assert s > 0.2 and b < 0.02, (s, b)
    assert _row(files, flat)["sharpness"] is None and _row(files, ramp)["sharpness"] is None


@pytest.mark.parametrize("name", ["astronaut", "chelsea", "coffee", "rocket", "motorcycle"])
def test_a_finer_look_sees_a_one_percent_blur(tmp_path: Path, name: str) -> None:
    # A blur of 1% of the long side is under two pixels at the scan's scale (80 px here), where
    # crisp and soft edges look alike; one decode scale finer (160 px) its edges are soft. Only
    # pictures whose sharpness is at most 0.5 get the second look.
    photo = _photo(name, (640, 480))
    sharp = _save(photo, tmp_path / "sharp.jpg", quality=90)
    blurred = _save(photo.filter(ImageFilter.GaussianBlur(640 * 0.01)), tmp_path / "blurred.jpg", quality=90)
    png = _save(photo.filter(ImageFilter.GaussianBlur(640 * 0.01)), tmp_path / "blurred.png")
    files = recipe_audit.scan([sharp, blurred, png], progress=False)
    crisp = _row(files, sharp)
    assert crisp["sharpness"] > 0.5 and crisp["sharpness_fine"] is None, crisp
    for path in (blurred, png):
        row = _row(files, path)
        assert row["sharpness"] <= 0.15 and row["sharpness_fine"] <= 0.005, row
    assert recipe_audit.find_outliers(files).filter(pl.col("blurry"))["path"].sort().to_list() == sorted([blurred, png])


def test_degenerate_pictures_do_not_crash(tmp_path: Path) -> None:
    paths = []
    for w, h in ((1, 1), (1, 300), (300, 1), (2, 2), (1000, 40)):
        arr = np.random.default_rng(w * h).integers(0, 256, (h, w, 3), dtype=np.uint8)
        paths.append(_save(Image.fromarray(arr), tmp_path / f"p_{w}x{h}.png"))
        paths.append(_save(Image.fromarray(arr), tmp_path / f"j_{w}x{h}.jpg", quality=80))
    files = recipe_audit.scan(paths, progress=False)
    assert (files["status"] == "ok").all()
    assert files["colorfulness"].is_not_null().all() and files["luma_p99"].is_not_null().all()
