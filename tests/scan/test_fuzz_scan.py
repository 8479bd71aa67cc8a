"""Property-based fuzzing of the whole per-file pipeline through the Python API.

Hypothesis feeds `scan_bytes` raw byte strings and valid files of every format damaged by random
cuts, bit flips, overwrites, insertions and repeats. Whatever the bytes: exactly one row, a status
from the documented set, a readable `error` exactly when the status is not ok, hashes and stats
exactly when it is, and no exception. ``RA_FUZZ_EXAMPLES`` raises the number of examples for a
long run (default 300 per property).
"""

from __future__ import annotations

import functools
import io
import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import recipe_audit
from recipe_audit import STATUSES

EXAMPLES = int(os.environ.get("RA_FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@functools.lru_cache(maxsize=1)
def seeds() -> tuple[bytes, ...]:
    """Small valid files of every supported format, cut from a real photograph."""
    from recipe_audit.examples import photo_sources

    _, photo = photo_sources()[0]
    rgb = Image.fromarray(np.ascontiguousarray(photo[:120, :160])).convert("RGB")
    out = []
    for fmt, options in [
        ("JPEG", {"quality": 85}),
        ("JPEG", {"progressive": True}),
        ("PNG", {}),
        ("PNG", {"optimize": True}),
        ("GIF", {}),
        ("WEBP", {"quality": 80}),
        ("WEBP", {"lossless": True}),
        ("BMP", {}),
        ("TIFF", {"compression": "tiff_lzw"}),
    ]:
        buf = io.BytesIO()
        rgb.save(buf, fmt, **options)
        out.append(buf.getvalue())
    gray = io.BytesIO()
    rgb.convert("L").save(gray, "PNG")
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated = io.BytesIO()
    rgb.save(rotated, "JPEG", exif=exif.tobytes())
    return tuple([*out, gray.getvalue(), rotated.getvalue()])


@st.composite
def damaged_files(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds())))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, max(0, len(data) - 1)))
        kind = draw(st.sampled_from(["cut", "flip", "overwrite", "insert", "repeat"]))
        if kind == "cut":
            del data[at:]
        elif kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "overwrite":
            patch = draw(st.binary(min_size=1, max_size=16))
            data[at : at + len(patch)] = patch
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 256))] * draw(st.integers(1, 8))
    return bytes(data)


def _check_one(blob: bytes) -> None:
    frame = recipe_audit.scan_bytes(["fuzzed.jpg"], [blob])
    assert frame.height == 1
    row = frame.row(0, named=True)
    assert row["path"] == "fuzzed.jpg" and row["bytes"] == len(blob)
    assert row["status"] in STATUSES
    if row["status"] == "ok":
        assert row["error"] is None
        assert None not in (row["phash"], row["dhash"], row["ahash"], row["mean"], row["entropy"])
        assert row["width"] > 0 and row["height"] > 0
    else:
        assert row["error"] and row["error"].strip()
        assert row["phash"] is None and row["mean"] is None


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes(blob: bytes) -> None:
    _check_one(blob)


@FUZZ
@given(damaged_files())
def test_damaged_files_of_every_format(blob: bytes) -> None:
    _check_one(blob)


@FUZZ
@given(
    st.sampled_from(["\x89PNG\r\n\x1a\n", "\xff\xd8\xff", "GIF89a", "RIFF\0\0\0\0WEBPVP8 ", "BM", "II*\0", "MM\0*"]),
    st.binary(max_size=512),
)
def test_magic_bytes_then_garbage(magic: str, tail: bytes) -> None:
    _check_one(magic.encode("latin-1") + tail)


def test_seeds_are_valid() -> None:
    frame = recipe_audit.scan_bytes([f"seed{k}" for k in range(len(seeds()))], list(seeds()))
    assert frame["status"].to_list() == ["ok"] * len(seeds())
    assert set(frame["format"]) == {"jpeg", "png", "gif", "webp", "bmp", "tiff"}
