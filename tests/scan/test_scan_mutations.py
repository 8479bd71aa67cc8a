"""Hostile bytes: mutated real files of every format never raise, hang or leave the status set."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import polars as pl
from PIL import Image

from recipe_audit import STATUSES
from recipe_audit.io.scan import scan_bytes


def _seeds(photos: list[Path]) -> list[tuple[str, bytes]]:
    with Image.open(next(p for p in photos if p.suffix == ".jpg")) as im:
        picture = im.convert("RGB").resize((96, 64))
    seeds = [
        ("photo.jpg", next(p for p in photos if p.suffix == ".jpg").read_bytes()),
        ("photo.png", next(p for p in photos if p.suffix == ".png").read_bytes()),
    ]
    for fmt, ext in [("GIF", "gif"), ("WEBP", "webp"), ("BMP", "bmp"), ("TIFF", "tiff"), ("JPEG", "jpg")]:
        buf = io.BytesIO()
        options = {"progressive": True} if fmt == "JPEG" else {}
        picture.save(buf, fmt, **options)
        seeds.append((f"small.{ext}", buf.getvalue()))
    return seeds


def test_every_format_decodes(photos: list[Path]) -> None:
    seeds = _seeds(photos)
    frame = scan_bytes([n for n, _ in seeds], [b for _, b in seeds])
    assert frame["status"].to_list() == ["ok"] * len(seeds), frame.select("path", "status", "error")
    assert frame["format"].to_list() == ["jpeg", "png", "gif", "webp", "bmp", "tiff", "jpeg"]


def test_mutated_files_are_rows_with_a_known_status(photos: list[Path]) -> None:
    rng = np.random.default_rng(11)
    names, blobs = [], []
    for name, data in _seeds(photos):
        for i in range(60):
            mutated = bytearray(data)
            if i % 3 == 0:
                mutated = mutated[: int(rng.integers(1, len(data)))]
            else:
                for _ in range(int(rng.integers(1, 20))):
                    mutated[int(rng.integers(0, len(mutated)))] = int(rng.integers(0, 256))
            names.append(f"{i}_{name}")
            blobs.append(bytes(mutated))
    frame = scan_bytes(names, blobs)
    assert frame.height == len(blobs)
    assert set(frame["status"]) <= set(STATUSES)
    broken = frame.filter(pl.col("status") != "ok")
    assert broken["error"].null_count() == 0
    assert (broken["error"].str.len_chars() > 10).all()
    # A cut file of a known format is truncated: never ok, never mistaken for damage.
    cut = frame.filter(pl.col("path").str.extract(r"^(\d+)_").cast(pl.Int32) % 3 == 0)
    cut = cut.filter(pl.col("format") != "unknown")
    assert (cut["status"] == "truncated").all(), cut.filter(pl.col("status") != "truncated").select("path", "error")
