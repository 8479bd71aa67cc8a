"""The ``thumb`` column's 92-byte code on real thumbnails: what the matcher reads of a picture
survives it, flat pictures stay flat at their level, raw thumbnails of earlier scans still read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

import recipe_audit
import recipe_audit._core as _core
from recipe_audit import thumbcode
from recipe_audit.dedup import thumbmatch


@pytest.fixture(scope="module")
def raw(photos: list[Path]) -> np.ndarray:
    """The core's own 256-byte thumbnails of real photographs (before the frame codes them)."""
    columns = _core.scan_paths([str(p) for p in photos], recursive=False, threads=2)
    values = [v for v in columns["thumb"] if v is not None]
    return np.frombuffer(b"".join(values), np.uint8).reshape(-1, 256)


def weighted_ac(thumbs: np.ndarray, below: int = 10) -> np.ndarray:
    """What the window rule correlates, the whole picture's frequency-weighted DCT, in the band
    its windows read (frequencies under 10 per side; the code keeps 12)."""
    index = np.arange(256)
    band = (index // 16 < below) & (index % 16 < below)
    return thumbmatch._unit_ac((thumbs.astype(np.float32) @ thumbmatch._whole_map().T) * band)


def test_the_scan_stores_codes_that_decode_to_the_picture(photos: list[Path], raw: np.ndarray) -> None:
    files = recipe_audit.scan(photos[0].parent, progress=False).filter(pl.col("status") == "ok")
    assert files["thumb"].bin.size().unique().to_list() == [thumbcode.CODE_BYTES] == [92]
    decoded = thumbcode.decode(thumbcode.encode(raw))
    assert decoded.shape == raw.shape and decoded.dtype == np.uint8
    # The level is kept to a quarter gray level, the detail the rule weighs nearly whole.
    assert np.abs(decoded.mean(axis=1) - raw.mean(axis=1)).max() <= 0.25
    textured = raw.std(axis=1) >= 8
    kept = np.einsum("ij,ij->i", weighted_ac(raw[textured]), weighted_ac(decoded[textured]))
    assert np.median(kept) > 0.99 and np.quantile(kept, 0.1) > 0.95 and kept.min() > 0.85
    # Coding twice changes nothing more than coding once.
    again = thumbcode.decode(thumbcode.encode(decoded))
    assert np.abs(again.astype(int) - decoded).mean() < np.abs(decoded.astype(int) - raw).mean()


def test_flat_pictures_stay_flat_and_textured_ones_stay_textured() -> None:
    rng = np.random.default_rng(5)
    level = rng.integers(0, 256, (400, 1))
    flat = np.repeat(level, 256, axis=1).astype(np.uint8)
    faint = np.clip(level + rng.integers(-4, 5, (400, 256)), 0, 255).astype(np.uint8)
    pictures = np.concatenate([flat, faint])
    decoded = thumbcode.decode(thumbcode.encode(pictures)).astype(np.float32)
    was_flat = pictures.astype(np.float32).std(axis=1) < thumbcode.FLAT_STD
    is_flat = decoded.std(axis=1) < thumbcode.FLAT_STD
    assert was_flat[:400].all() and np.array_equal(was_flat, is_flat)
    assert np.abs(decoded[:400] - flat[:400]).max() == 0, "a flat frame keeps its exact level"
    assert np.abs(decoded.mean(axis=1) - pictures.mean(axis=1)).max() <= 0.25


def test_raw_thumbnails_of_earlier_scans_are_read_through_the_code(raw: np.ndarray) -> None:
    """A frame or an index that mixes raw thumbnails (an earlier release) with codes reads every
    row at the code's fidelity: a raw copy and a coded copy of one picture read the same."""
    values = [row.tobytes() for row in raw[:6]]
    mixed = values[:3] + thumbcode.coded(values[3:])
    read = thumbcode.thumbnails(mixed)
    assert np.array_equal(read, thumbcode.decode(thumbcode.encode(raw[:6])))
    assert np.array_equal(thumbcode.thumbnails(values[:1] + thumbcode.coded(values[:1]))[1], read[0])
    assert thumbcode.coded([None, *mixed]) == [None, *thumbcode.coded(values[:3]), *mixed[3:]], "codes stay codes"
    with pytest.raises(ValueError, match="neither 256 raw bytes nor a 92-byte code"):
        thumbcode.thumbnails([b"\x00" * 100])


def test_copies_match_the_same_through_the_code(raw: np.ndarray) -> None:
    """A darker copy of each textured photograph still links to it, and unrelated ones do not,
    when both are coded."""
    textured = raw[raw.std(axis=1) >= 8][:20]
    darker = (textured * 0.8).astype(np.uint8)
    both = np.concatenate([textured, darker])
    coded = thumbcode.decode(thumbcode.encode(both)).astype(np.float32)
    pairs = thumbmatch.matched_pairs(coded)
    assert set(zip(pairs["a"], pairs["b"], strict=True)) == {(i, i + len(textured)) for i in range(len(textured))}


def test_a_thumbnail_codes_the_same_whatever_else_is_in_the_batch(raw: np.ndarray) -> None:
    """Pictures with coefficients that are exactly zero (gradients, bands, mirror-symmetric ones)
    must not take their level from floating-point noise that depends on the batch: the same file
    scanned alone, among others, or with another thread count gets one code and one thumbnail."""
    ramp = np.repeat(np.linspace(20, 230, 16), 16).reshape(16, 16)
    pictures = np.stack([ramp, ramp.T, np.tile([0.0, 255.0], 128).reshape(16, 16), np.full((16, 16), 99.0)])
    pictures = pictures.reshape(-1, 256).astype(np.uint8)
    alone = thumbcode.encode(pictures)
    rng = np.random.default_rng(2)
    for size in (2, 33, 100):
        others = raw[rng.integers(0, len(raw), size)]
        for at in (0, size // 2):
            batch = np.concatenate([others[:at], pictures, others[at:]])
            assert np.array_equal(thumbcode.encode(batch)[at : at + len(pictures)], alone), (size, at)
            values = [row.tobytes() for row in thumbcode.encode(batch)]
            read = thumbcode.thumbnails(values)[at : at + len(pictures)]
            assert np.array_equal(read, thumbcode.decode(alone)), (size, at)
