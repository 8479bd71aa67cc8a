"""The scan's ``thumb`` column stored in 92 bytes instead of 256: a transform code of the 16x16
gray thumbnail, decodable with numpy alone.

The near-duplicate rule reads the thumbnail through linear maps (windows, their 2-D DCT) and only
its frequencies below about 10 per side matter to it: the 88% and turned windows stretch and mix
them, the hashes read a window's lowest 8 x 8. So the code keeps the 12 x 12 lowest frequencies of
the orthonormal DCT-II:

- the mean gray level, 10 bits (quarter levels);
- a gain, the thumbnail's standard deviation on a log scale (1/5 octave a cell, 5 bits), whose
  cell 0 is exactly the flat pictures of the rule (std under `FLAT_STD`): a flat picture decodes
  flat, a textured one never does;
- the 143 AC coefficients in JPEG zigzag order, each weighed by its frequency 1 + u + v (the
  rule's own weight) over the gain, clipped to +-24 and cut into 32 levels of 5 bits. The levels
  are midrise, +-(k + 1/2) step: the window hashes compare coefficients with their median, which
  sits among the small ones, and a zero level would leave those bits to rounding noise.

Decoding inverts the DCT and rounds to 8 bits keeping the coded mean. Chosen on the tuning halves
of six `dup_corpus` seeds and checked held out on a fresh one (BENCHMARKS.md, "The thumbnail in 92
bytes"; `python -m benches.studies.thumb_coding`): recall and precision of `find_duplicates` within
the noise of the raw thumbnail. A 256-byte value is a raw thumbnail (scans by an earlier release)
and is read through the code like the rest.
"""

from __future__ import annotations

import functools

import numpy as np

SIDE = 16
"""Side of the thumbnail (THUMB_SIDE**2 = 256 raw bytes, row-major gray)."""
RAW_BYTES = SIDE * SIDE
FLAT_STD = 2.0
"""Thumbnail standard deviation (gray levels) under which a picture is flat (no detail to match)."""
ZONE = 12
"""Frequencies u, v below this are kept."""
AC_BITS = 5
MEAN_BITS = 10
GAIN_BITS = 5
GAIN_CELLS_PER_OCTAVE = 5
REACH = 24.0
"""Clip level of a coefficient times (1 + u + v) over the gain."""
CHUNK = 16_384
"""Rows coded at a time: the bit arrays take about 3 kB a row while a chunk is coded or read."""
REVISION = 1
"""Changes whenever a code would decode differently: part of a stored scan's fingerprint
(`io.listing.Settings`), so rows coded otherwise are scanned again rather than mixed in."""
DIGITS = 6
"""Decimals the codec's floating-point results are rounded to before a level or a pixel is taken
from them: BLAS sums a row differently by batch size and position, and a coefficient that is 0
(a symmetric picture, a gradient) came out as level -1 or 0 by its neighbours in the batch."""


@functools.cache
def _dct_matrix() -> np.ndarray:
    """(16, 16) orthonormal DCT-II: coefficients = D @ thumb @ D.T, thumb = D.T @ coefficients @ D."""
    k, x = np.arange(SIDE)[:, None], np.arange(SIDE)[None, :]
    d = np.cos(np.pi * k * (2 * x + 1) / (2 * SIDE)) * np.sqrt(2 / SIDE)
    d[0] /= np.sqrt(2)
    return d


@functools.cache
def _ac_index() -> np.ndarray:
    """Flat indices u * 16 + v of the kept AC coefficients, in JPEG zigzag order."""
    order = []
    for s in range(2 * SIDE - 1):
        cells = [(u, s - u) for u in range(SIDE) if 0 <= s - u < SIDE]
        order += cells if s % 2 else cells[::-1]
    return np.array([u * SIDE + v for u, v in order if u < ZONE and v < ZONE][1:], dtype=np.int64)


@functools.cache
def _unit_steps() -> np.ndarray:
    """Each kept coefficient's quantizer step for a gain of 1."""
    index = _ac_index()
    return REACH / 2.0 ** (AC_BITS - 1) / (1.0 + index // SIDE + index % SIDE)


@functools.cache
def _kept_basis() -> np.ndarray:
    """(143, 256): a raw thumbnail's kept AC coefficients are this times its pixels (the rows of
    the 2-D DCT, D kron D, that the code keeps)."""
    return np.kron(_dct_matrix(), _dct_matrix())[_ac_index()]


CODE_BYTES = -(-(MEAN_BITS + GAIN_BITS + AC_BITS * (ZONE * ZONE - 1)) // 8)
"""Bytes of one coded thumbnail (92)."""


def _gain_cell(std: np.ndarray) -> np.ndarray:
    """0 for flat pictures, else 1 + the log2 cell of the standard deviation above FLAT_STD."""
    above = np.log2(np.maximum(std, FLAT_STD) / FLAT_STD) * GAIN_CELLS_PER_OCTAVE
    top = 2**GAIN_BITS - 1
    return np.where(std < FLAT_STD, 0, 1 + np.minimum(np.floor(above), top - 1)).astype(np.int64)


def _gain_value(cell: np.ndarray) -> np.ndarray:
    """The gain a cell decodes to (its centre on the log scale); 1 for flat cells (unused)."""
    return np.where(cell > 0, FLAT_STD * 2.0 ** ((cell - 0.5) / GAIN_CELLS_PER_OCTAVE), 1.0)


def _bits(values: np.ndarray, width: int) -> np.ndarray:
    """(n, k) non-negative integers (under 2**15) to (n, k * width) bits, most significant first."""
    shifts = np.arange(width - 1, -1, -1, dtype=np.int16)
    return ((values.astype(np.int16)[:, :, None] >> shifts) & 1).astype(np.uint8).reshape(len(values), -1)


def _numbers(bits: np.ndarray, width: int) -> np.ndarray:
    """(n, k * width) bits to (n, k) integers."""
    shifts = np.arange(width - 1, -1, -1, dtype=np.int16)
    return (bits.reshape(len(bits), -1, width).astype(np.int16) << shifts).sum(axis=2, dtype=np.int64)


def encode(thumbs: np.ndarray) -> np.ndarray:
    """(n, 256) uint8 thumbnails to their (n, CODE_BYTES) codes."""
    return np.concatenate(
        [_encode(thumbs[s : s + CHUNK]) for s in range(0, len(thumbs), CHUNK)] or [np.zeros((0, CODE_BYTES), np.uint8)]
    )


def _encode(thumbs: np.ndarray) -> np.ndarray:
    pixels = thumbs.astype(np.float32)  # the matcher's own dtype: its std decides flatness
    mean = np.clip(np.round(pixels.mean(axis=1, dtype=np.float64) * 4), 0, 2**MEAN_BITS - 1).astype(np.int64)
    cell = _gain_cell(pixels.std(axis=1))
    coefficients = pixels.astype(np.float64) @ _kept_basis().T
    scaled = np.round(coefficients / (_gain_value(cell)[:, None] * _unit_steps()), DIGITS)
    half = 2 ** (AC_BITS - 1)
    levels = np.clip(np.floor(scaled), -half, half - 1).astype(np.int64)
    levels[cell == 0] = 0  # flat pictures keep only their level
    fields = [_bits(mean[:, None], MEAN_BITS), _bits(cell[:, None], GAIN_BITS), _bits(levels & (2 * half - 1), AC_BITS)]
    return np.packbits(np.concatenate(fields, axis=1), axis=1)


def decode(codes: np.ndarray) -> np.ndarray:
    """(n, CODE_BYTES) codes to (n, 256) uint8 thumbnails."""
    return np.concatenate(
        [_decode(codes[s : s + CHUNK]) for s in range(0, len(codes), CHUNK)] or [np.zeros((0, RAW_BYTES), np.uint8)]
    )


def _decode(codes: np.ndarray) -> np.ndarray:
    bits = np.unpackbits(codes, axis=1)
    mean = _numbers(bits[:, :MEAN_BITS], MEAN_BITS)[:, 0] / 4
    cell = _numbers(bits[:, MEAN_BITS : MEAN_BITS + GAIN_BITS], GAIN_BITS)[:, 0]
    count = len(_ac_index())
    start = MEAN_BITS + GAIN_BITS
    levels = _numbers(bits[:, start : start + count * AC_BITS], AC_BITS)
    levels = np.where(levels >= 2 ** (AC_BITS - 1), levels - 2**AC_BITS, levels)  # two's complement
    textured = cell > 0
    ac = (levels + 0.5) * textured[:, None] * _gain_value(cell)[:, None] * _unit_steps()
    # The DC basis image is flat at 1/16 of the coefficient (16 x the mean): it adds the mean.
    pixels = np.round(ac @ _kept_basis() + mean[:, None], DIGITS)
    out = _round_keeping_mean(pixels, mean)
    # A textured picture whose detail lay in the dropped frequencies may decode under FLAT_STD:
    # its deviations are scaled up until it is not, so the matcher never takes it for a blank frame.
    std = out.astype(np.float32).std(axis=1)
    low = np.flatnonzero(textured & (std < FLAT_STD) & (np.ptp(pixels, axis=1) > 1e-6))
    low_std = std[low]
    for _ in range(8):
        if len(low) == 0:
            break
        centre = pixels[low].mean(axis=1, keepdims=True)
        pixels[low] = centre + (pixels[low] - centre) * (1.1 * FLAT_STD / np.maximum(low_std, 0.1))[:, None]
        out[low] = _round_keeping_mean(pixels[low], mean[low])
        # Only the rows just scaled can still be too flat.
        low_std = out[low].astype(np.float32).std(axis=1)
        low, low_std = low[low_std < FLAT_STD], low_std[low_std < FLAT_STD]
    return out


def _round_keeping_mean(pixels: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Rounds (n, 256) pixels to uint8 so each row sums to 256 x its coded mean: the pixels with
    the largest fractions round up, as many as the sum needs."""
    clipped = np.clip(pixels, 0, 255)
    floor = np.floor(clipped)
    fraction = clipped - floor
    ups = np.clip(np.round(mean * RAW_BYTES) - floor.sum(axis=1), 0, RAW_BYTES).astype(np.int64)
    # The ups-th largest fraction; those above it round up, and of those equal to it the first
    # ones in row order, as many as are still needed (a flat picture's fractions are all equal).
    ordered = np.sort(fraction, axis=1)
    threshold = ordered[np.arange(len(pixels)), np.clip(RAW_BYTES - ups, 0, RAW_BYTES - 1)]
    above = fraction > threshold[:, None]
    tied = fraction == threshold[:, None]
    needed = (ups - above.sum(axis=1))[:, None]
    up = above | (tied & (np.cumsum(tied, axis=1) <= needed))
    up &= (ups > 0)[:, None]
    return np.clip(floor + up, 0, 255).astype(np.uint8)


def thumbnails(values: list[bytes]) -> np.ndarray:
    """The (n, 256) uint8 thumbnails of a ``thumb`` column's values (no nulls), each as its code
    gives it back: raw 256-byte thumbnails (scans by an earlier release) are coded first, so a
    frame or an index that mixes both reads every row at one fidelity (the code drops the highest
    frequencies, which the matcher weighs most: a raw thumbnail and its own code correlate at
    about 0.8 there, under the bar a copy must clear)."""
    if any(len(v) not in (RAW_BYTES, CODE_BYTES) for v in values):
        raise ValueError(f"a thumb value is neither {RAW_BYTES} raw bytes nor a {CODE_BYTES}-byte code")
    codes = np.frombuffer(b"".join(coded(values)), np.uint8)  # type: ignore[arg-type]
    # Identical codes decode once: one picture, one thumbnail, whatever else is in the batch.
    distinct, which = np.unique(codes.reshape(-1, CODE_BYTES), axis=0, return_inverse=True)
    return decode(distinct)[which.ravel()]


def coded(values: list[bytes | None]) -> list[bytes | None]:
    """A ``thumb`` column's raw thumbnails as codes (None stays None; codes stay codes)."""
    at = [i for i, v in enumerate(values) if v is not None and len(v) == RAW_BYTES]
    if not at:
        return values
    codes = encode(np.frombuffer(b"".join(values[i] for i in at), np.uint8).reshape(-1, RAW_BYTES))  # type: ignore[misc]
    out = list(values)
    for i, code in zip(at, codes, strict=True):
        out[i] = code.tobytes()
    return out


__all__ = ["CODE_BYTES", "FLAT_STD", "RAW_BYTES", "REVISION", "SIDE", "coded", "decode", "encode", "thumbnails"]
