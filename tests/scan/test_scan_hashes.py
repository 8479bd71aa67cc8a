"""Hashes against the imagehash reference on real photos; copies close, strangers far; labels."""

from __future__ import annotations

import shutil
from pathlib import Path

import imagehash
import numpy as np
import polars as pl
import pytest
from PIL import Image

import recipe_audit
import recipe_audit._core as _core
from recipe_audit.io.scan import scan_bytes


def bits(a: int, b: int) -> int:
    return bin(a ^ b).count("1")


def test_hashes_agree_with_imagehash(photos: list[Path]) -> None:
    frame = recipe_audit.scan(photos[0].parent, progress=False)
    distances = {"ahash": [], "dhash": [], "phash": []}
    for row in frame.iter_rows(named=True):
        with Image.open(row["path"]) as im:
            reference = {
                "ahash": imagehash.average_hash(im),
                "dhash": imagehash.dhash(im),
                "phash": imagehash.phash(im),
            }
        for name, value in reference.items():
            distances[name].append(bits(row[name], int(str(value), 16)))
    for name, d in distances.items():
        share = float(np.mean(np.array(d) <= 4))
        assert share >= 0.95, (name, share, sorted(d)[-10:])


def test_full_scale_is_exact_for_png(photos: list[Path]) -> None:
    # Without reduction the hashes equal imagehash's bit for bit (Pillow's Lanczos reproduced).
    pngs = [p for p in photos if p.suffix == ".png"]
    assert pngs
    frame = recipe_audit.scan(pngs, progress=False, min_decode_side=1 << 30)
    for row in frame.iter_rows(named=True):
        with Image.open(row["path"]) as im:
            assert row["phash"] == int(str(imagehash.phash(im)), 16)
            assert row["dhash"] == int(str(imagehash.dhash(im)), 16)
            assert row["ahash"] == int(str(imagehash.average_hash(im)), 16)


def test_thumb_is_the_area_average_of_the_decoded_picture(photos: list[Path]) -> None:
    # The 16x16 thumbnail near-duplicate matching works on: Pillow's BOX resize of the gray picture.
    # The core's own thumbnails: the frame stores them coded (`recipe_audit.thumbcode`).
    pngs = [p for p in photos if p.suffix == ".png"]
    columns = _core.scan_paths([str(p) for p in pngs], recursive=False, threads=1, min_decode_side=1 << 30)
    for path, thumb in zip(columns["path"], columns["thumb"], strict=True):
        with Image.open(path) as im:
            expected = np.asarray(im.convert("L").resize((16, 16), Image.BOX), dtype=np.int16)
        got = np.frombuffer(thumb, dtype=np.uint8).reshape(16, 16).astype(np.int16)
        # Pillow weighs the partly covered edge pixels a little differently.
        assert np.abs(got - expected).mean() <= 2 and np.abs(got - expected).max() <= 16, path


def test_copies_share_content_hash_and_near_copies_are_close(photos: list[Path], tmp_path: Path) -> None:
    source = next(p for p in photos if p.suffix == ".jpg")
    shutil.copy(source, tmp_path / "a.jpg")
    shutil.copy(source, tmp_path / "b_renamed.jpeg")
    with Image.open(source) as im:
        im = im.convert("RGB")
        im.resize((im.width // 2, im.height // 2), Image.LANCZOS).save(tmp_path / "half.jpg", quality=80)
        im.save(tmp_path / "recompressed.png")
    frame = recipe_audit.scan(tmp_path, progress=False)
    rows = {Path(r["path"]).name: r for r in frame.iter_rows(named=True)}
    assert rows["a.jpg"]["content_hash"] == rows["b_renamed.jpeg"]["content_hash"]
    assert rows["a.jpg"]["content_hash"] != rows["half.jpg"]["content_hash"]
    assert len(rows["a.jpg"]["content_hash"]) == 32
    assert bits(rows["a.jpg"]["phash"], rows["half.jpg"]["phash"]) <= 6
    assert bits(rows["a.jpg"]["phash"], rows["recompressed.png"]["phash"]) <= 6


def test_unrelated_photos_are_far_apart(photos: list[Path]) -> None:
    frame = recipe_audit.scan(photos[0].parent, progress=False)
    hashes = frame["phash"].to_numpy()
    close = [bits(int(a), int(b)) for i, a in enumerate(hashes) for b in hashes[i + 1 :]]
    # Distinct crops: almost all pairs far apart (random 64-bit hashes sit around 32 bits).
    assert np.median(close) >= 24
    assert np.mean(np.array(close) <= 6) < 0.01


def test_same_frame_for_any_thread_count(photos: list[Path]) -> None:
    one = recipe_audit.scan(photos[0].parent, threads=1, progress=False)
    two = recipe_audit.scan(photos[0].parent, threads=2, progress=False)
    assert one.equals(two)
    assert one["path"].is_sorted()


def test_labels_and_splits_from_folders(example_root: Path, tmp_path: Path, photos: list[Path]) -> None:
    frame = recipe_audit.scan(example_root, progress=False)
    assert set(frame["split"].unique()) == {"train", "val", "test"}
    assert set(frame["label"].unique()) == {"astronaut", "chelsea", "coffee", "rocket"}
    row = frame.filter(pl.col("path").str.contains("/test/rocket/")).row(0, named=True)
    assert (row["split"], row["label"]) == ("test", "rocket")
    # Without split folders the first level is the class.
    (tmp_path / "dogs").mkdir()
    shutil.copy(photos[0], tmp_path / "dogs" / "d.jpg")
    shutil.copy(photos[1], tmp_path / "loose.jpg")
    flat = recipe_audit.scan(tmp_path, progress=False)
    assert flat.select("label", "split").rows() == [("dogs", None), (None, None)]


def test_scan_bytes_matches_scan(photos: list[Path]) -> None:
    paths = [str(p) for p in photos[:10]]
    from_disk = recipe_audit.scan(paths, progress=False).drop("label", "split")
    in_memory = scan_bytes(paths, [Path(p).read_bytes() for p in paths]).drop("label", "split")
    assert from_disk.equals(in_memory)
    as_bytearrays = scan_bytes(paths, [bytearray(Path(p).read_bytes()) for p in paths]).drop("label", "split")
    assert as_bytearrays.equals(in_memory)


def test_scan_bytes_names_a_blob_that_is_not_bytes(photos: list[Path]) -> None:
    with pytest.raises(TypeError, match=r'the blob for "b\.jpg" is str, not bytes'):
        scan_bytes(["a.jpg", "b.jpg"], [photos[0].read_bytes(), "not bytes"])
    with pytest.raises(ValueError, match="2 names but 1 byte strings"):
        scan_bytes(["a.jpg", "b.jpg"], [photos[0].read_bytes()])


def test_stats_are_sane(photos: list[Path], tmp_path: Path) -> None:
    Image.new("L", (300, 200), 0).save(tmp_path / "black.png")
    Image.new("L", (300, 200), 255).save(tmp_path / "white.png")
    frame = recipe_audit.scan(tmp_path, progress=False)
    black, white = frame.row(0, named=True), frame.row(1, named=True)
    assert black["dark_frac"] == 1.0 and black["mean"] == 0 and black["entropy"] == 0
    assert white["bright_frac"] == 1.0 and white["blur"] == 0
    assert black["aspect"] == pytest.approx(1.5)
    photos_frame = recipe_audit.scan(photos[0].parent, progress=False)
    assert photos_frame["entropy"].min() > 3
    assert photos_frame["blur"].min() > 0
