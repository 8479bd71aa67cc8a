"""The default near-duplicate rule: windows of the scan's 16x16 thumbnails, found by Hamming search
and confirmed by correlation.

A copy that was cropped (off-centre too), turned by a few degrees, mirrored, watermarked,
brightened, re-encoded or resized shows most of its original's picture, but one whole-picture hash
moves too far to find it. So every picture is also hashed through windows of itself:

1. **Windows.** From each file's ``thumb`` (16x16 gray, area-averaged), `WINDOWS` resamples 49
   axis-aligned windows (each side whole, or 94% or 88% of it, flush with either edge or
   centred: 7 choices per side) and 6 centre windows (88%) turned by 2, 3.5 and 5 degrees either
   way, in the picture's pixels (per band of aspect ratio, `ASPECT_STEP`: turned in the squashed
   thumbnail, a wide picture's window would be sheared). Each window gets a 64-bit pHash-like
   hash: the low 8x8 DCT frequencies of a 16x16 resampling, against their median.
2. **Candidates.** A file's whole-picture hash, and its mirror image's, against every window hash
   of every other file, within `CANDIDATE_DISTANCE` bits (the exact search of `_core`).
3. **Confirmation.** A candidate stands when the correlation of the two pictures' 16x16 DCT
   coefficients (DC left out, so brightness and contrast do not count; each weighed by its
   frequency, so details count as much as the broad gradient) at the matched window is at least
   `MIN_CORRELATION`: a 64-bit hash alone cannot tell look-alikes apart, 255 coefficients
   can. A match through a mirror image needs `MIN_MIRROR_CORRELATION`, and one between pictures
   of different shapes (aspect ratios apart by more than `MAX_ASPECT_CHANGE`: the thumbnail hides
   the shape) `MIN_RESHAPED_CORRELATION`; a match involving a small picture (shorter side under
   `SMALL_SIDE`) `MIN_SMALL_CORRELATION`; a gray picture against a coloured one
   `MIN_GRAY_COLOR_CORRELATION`. Two coloured pictures whose colourfulness (a scan column)
   differs more than `MAX_COLOR_RATIO` times never match. A match through a window (not the
   whole picture) also needs the finer layout to agree: the scan's ``thumb_signs`` (the sign of a
   band-pass of its 64x64 square, 16x16 bits) must agree on `MIN_SIGN_AGREEMENT` of the window's
   points, and on more where mostly negative maps agree that much by chance
   (`SIGN_BEYOND_CHANCE`), however high the correlation. Look-alikes (an orange disc and an orange fundus on
   black, two smooth dark wallpapers) pass the 16x16 correlation through a window; their detail
   does not line up.
4. **Flat pictures** (thumbnail standard deviation under `FLAT_STD`: one colour, a blank page)
   have no structure to hash: they match only each other, when their mean levels differ by at most
   `FLAT_MEAN_DISTANCE` and their hues agree (one cell of `FLAT_HUE_STEP` levels, in any of four
   grids offset by half a cell: hues within half a step always agree, so the level or two a JPEG
   re-encode moves a frame's colour never splits it from its original). A black frame is never a
   white frame's duplicate, nor a red one a green one's. A flat picture whose pixels show detail
   (luma ``std`` of `BLANK_STD` or more: a star field) never matches a blank one, and matches
   another with detail only when their pHashes are within `FLAT_DETAIL_DISTANCE` bits too.

The windows and thresholds were chosen on the tuning halves of `benches/studies/dup_corpus.py` (seeds 1,
3, 4, 5, 13 and 17: the photographs of one half of the sources), the built-in example and sklearn's
digits, and are reported on the other half of the sources with a fresh seed (19) in
BENCHMARKS.md, "Near duplicates held out: the window rule"; the sign check on the same tuning
seeds (`benches/studies/dup_sign_threshold.py`), reported with fresh seed 47 in "Near duplicates:
the finer layout must agree too".
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import polars as pl

import recipe_audit._core as _core
import recipe_audit.thumbcode as thumbcode
from recipe_audit.dedup import cuts

THUMB_SIDE = thumbcode.SIDE
"""Side of the scan's thumbnail (THUMB_SIDE**2 pixels, row-major gray; stored coded, `thumbnails`)."""
CANDIDATE_DISTANCE = 10
"""Bits between a whole-picture hash and a window hash for a candidate pair."""
MIN_CORRELATION = 0.6
"""Correlation of the matched windows' DCT coefficients, each weighed by its frequency, that
confirms a candidate."""
MIN_MIRROR_CORRELATION = 0.9
"""The same, for a match through a mirror image: look-alikes get a second chance there (a cup
seen from the left resembles a cup seen from the right), true mirror copies correlate above 0.95."""
MAX_ASPECT_CHANGE = 0.15
"""Largest |log| of the ratio of two pictures' aspect ratios (width / height) for an ordinary
match: a crop of 10% of one side changes it by 0.105. A pair whose shapes differ more (a copy
squashed to a square) needs `MIN_RESHAPED_CORRELATION`: the thumbnail hides the shape, and
look-alike parts of one photograph, cut to other shapes, are the commonest false match."""
MIN_RESHAPED_CORRELATION = 0.95
SMALL_SIDE = 40
"""Pictures whose shorter side is under this many pixels (CIFAR-sized and smaller) hold too little to tell a look-alike
from a copy (sklearn's 8x8 digits: two different handwritten 1s correlate above 0.9); a match
involving one needs `MIN_SMALL_CORRELATION`, a copy at most re-encoded or resized."""
MIN_SMALL_CORRELATION = 0.98
MIN_GRAY_COLOR_CORRELATION = 0.65
"""The bar for a gray picture against a coloured one (colourfulness under `COLORED` on one side
only): the colour check cannot judge them, and on the tuning halves 44 of 47 links between
different sources were of this kind, at 0.60-0.73 (a gray copy of a coloured photo correlates
near 1; 0.3% of such true links fall under 0.65)."""
MAX_COLOR_RATIO = 3.0
"""Two coloured pictures (colourfulness at least `COLORED` each) whose colourfulness differs by
more than this factor are not copies: brightness and contrast edits scale it by 0.5-1.9, while a
gray thumbnail cannot tell a vivid flower from a muted clock of the same layout, or two colour
variants of one wallpaper."""
COLORED = 3.0
MIN_SIGN_AGREEMENT = 0.66
"""Share of the 256 band-pass signs (``thumb_signs``) that must agree at the matched window for a
match through a window: on the tuning seeds every link between different photographs agreed on
less (they are window matches, never whole-picture ones), and 1.4% of true links. A high
correlation does not excuse a low agreement: on the tuning halves of the larger library, such a
rescue (at 0.85) kept 0.3% more true links but let two smooth wallpapers link
(BENCHMARKS.md, "Near duplicates: the finer layout must agree too")."""
SIGN_BEYOND_CHANCE = 0.32
"""Share of the agreement two sign maps leave to chance that a window match must reach too:
`MIN_SIGN_AGREEMENT` where half of each map's signs are positive (0.5 + 0.5 * 0.32 = 0.66), and
more where the maps are mostly negative. A black sky has no band-pass to sign (its signs are
negative), so two galaxies on black agreed on 0.66-0.72 of their signs (maps 7-33% positive
agree on 0.6-0.9 by chance) while their blobs matched at 0.93."""
DARK_SKY_SHARE = 0.3
"""Share of near-black pixels (the scan's ``dark_frac``, luma <= 15) from which a picture is an
object on a dark sky; a window match between two such pictures must agree
`DARK_SKY_SIGN_BEYOND_CHANCE` beyond chance."""
DARK_SKY_SIGN_BEYOND_CHANCE = 0.40
"""`SIGN_BEYOND_CHANCE` between two pictures on a dark sky: different galaxies, planetary nebulae
and globular clusters are round blobs on black whose thumbnails correlate up to 0.99. Chosen on
194 Stellarium nebulae with their edited copies (a helper's study), held out on 195 others and an
outside evaluator's set (BENCHMARKS.md, "Galaxies on black: a stricter sign bar")."""
FLAT_STD = thumbcode.FLAT_STD
"""Thumbnail standard deviation (gray levels) under which a picture is flat (the thumbnail's code
keeps exactly this distinction: `recipe_audit.thumbcode`)."""
FLAT_MEAN_DISTANCE = 8.0
"""Largest difference of mean gray level between two flat pictures that match."""
FLAT_HUE_STEP = 12.0
"""Flat pictures match only within one hue: mean opponent colours (R - G, (R + G) / 2 - B)
in cells of this many levels (see `HUE_GRIDS`)."""
HUE_GRIDS = ((0.0, 0.0), (0.5, 0.0), (0.0, 0.5), (0.5, 0.5))
"""Offsets, in cells, of the hue grids flat pictures are matched in: two hues within half a cell
on both axes share a cell in one of them. With one grid, a JPEG re-encode that moved a frame's
mean colour by a level across a cell edge missed its original (21 of 300 random colours)."""

BLANK_STD = 2.0
"""Luma standard deviation of the picture's pixels (the scan's ``std``, unknown counting as 0)
under which a flat picture matches others by mean level and hue, as blank frames do. A flat
picture with more (a star field: black in 16x16, stars in its pixels) never does: level and hue
alone linked crops of unrelated star fields."""
DETAIL_STD = 1.0
"""Pixel ``std`` from which a flat picture (both pHashes known) matches other such pictures by its
detail: pHashes (or one's and the other's mirror image's) within `FLAT_DETAIL_DISTANCE` bits,
band-pass signs (``thumb_signs``) agreeing `FLAT_SIGN_BEYOND_CHANCE` beyond chance, mean level
and hue. Between this and `BLANK_STD` a picture matches both ways: a copy of a star field made 25%
darker (std 2.4 -> 1.8) still finds its original."""
FLAT_DETAIL_DISTANCE = 22
"""Bits between the pHashes of two flat pictures with detail that match."""
FLAT_SIGN_BEYOND_CHANCE = 0.2
"""Share of the agreement two whole sign maps leave to chance that two flat pictures with detail
must reach (`SIGN_BEYOND_CHANCE` for windows): 95% of unrelated star fields reach 0.12, half of
true copies 0.76."""
DETAIL_CHUNK = 1024
"""Flat pictures with detail searched at a time: memory stays bounded however many near-identical
ones (with distinct pHashes) a collection holds."""

_GRID = 16  # samples per side of a resampled window
_LOW = 8  # hashed frequencies per side


def _axis_windows() -> list[tuple[float, float]]:
    """Per axis: the whole side, and 94% and 88% of it at the start, centre and end."""
    out = [(0.0, 1.0)]
    for scale in (0.94, 0.88):
        for at in (0.0, 0.5, 1.0):
            start = (1 - scale) * at
            out.append((start, start + scale))
    return out


def _windows() -> list[tuple[tuple[float, float], tuple[float, float], float]]:
    """(x range, y range, degrees) per window; the first is the whole picture."""
    axis = _axis_windows()
    grid = [(x, y, 0.0) for y in axis for x in axis]
    centre = (0.06, 0.94)
    return grid + [(centre, centre, angle) for angle in (-5.0, -3.5, -2.0, 2.0, 3.5, 5.0)]


WINDOWS = _windows()
"""Every window a picture is hashed through: (x range, y range, degrees), fractions of the sides."""
_ALIGNED = sum(1 for *_, degrees in WINDOWS if degrees == 0.0)
"""The axis-aligned windows come first; the turned ones follow."""
_WINDOW_ASPECT = np.array([np.log((x1 - x0) / (y1 - y0)) for (x0, x1), (y0, y1), _ in WINDOWS])
"""log(width / height) of each window as a share of its picture's: a window's own shape is its
picture's aspect plus this."""


def _dct_matrix(n: int) -> np.ndarray:
    k, x = np.arange(n)[:, None], np.arange(n)[None, :]
    return np.cos(np.pi * k * (2 * x + 1) / (2 * n))


def _window_points(
    x: tuple[float, float], y: tuple[float, float], degrees: float, aspect: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """(GRID*GRID,) x and y of a window's sample points, in pixels of a THUMB_SIDE-square picture."""
    s = THUMB_SIDE
    u = (np.arange(_GRID) + 0.5) / _GRID * 2 - 1
    gy, gx = np.meshgrid(u, u, indexing="ij")
    cx, cy, hw, hh = (x[0] + x[1]) / 2, (y[0] + y[1]) / 2, (x[1] - x[0]) / 2, (y[1] - y[0]) / 2
    cos, sin = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    px = np.clip((cx + cos * gx * hw - sin * gy * hh / aspect) * s - 0.5, 0, s - 1).ravel()
    py = np.clip((cy + sin * gx * hw * aspect + cos * gy * hh) * s - 0.5, 0, s - 1).ravel()
    return px, py


def _taps(
    x: tuple[float, float], y: tuple[float, float], degrees: float, aspect: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """(GRID*GRID, 4) cells and (GRID*GRID, 4) weights: the bilinear taps of a window's sample
    points into a THUMB_SIDE-square picture, turned about its centre. The turn is in the
    picture's pixels: `aspect` (width / height) undoes the thumbnail's squashing, which would
    otherwise shear a turned window of a non-square picture."""
    s = THUMB_SIDE
    px, py = _window_points(x, y, degrees, aspect)
    x0, y0 = np.floor(px).astype(int), np.floor(py).astype(int)
    x1, y1 = np.minimum(x0 + 1, s - 1), np.minimum(y0 + 1, s - 1)
    wx, wy = px - x0, py - y0
    cells = np.stack([y0 * s + x0, y0 * s + x1, y1 * s + x0, y1 * s + x1], axis=1)
    weights = np.stack([(1 - wy) * (1 - wx), (1 - wy) * wx, wy * (1 - wx), wy * wx], axis=1)
    return cells, weights


def _sampling(x: tuple[float, float], y: tuple[float, float], degrees: float, aspect: float = 1.0) -> np.ndarray:
    """(GRID*GRID, THUMB_SIDE**2): the bilinear samples of a window (`_taps`) as a matrix."""
    cells, weights = _taps(x, y, degrees, aspect)
    out = np.zeros((_GRID * _GRID, THUMB_SIDE * THUMB_SIDE))
    np.add.at(out, (np.repeat(np.arange(_GRID * _GRID), cells.shape[1]), cells.ravel()), weights.ravel())
    return out


@functools.cache
def _whole_map() -> np.ndarray:
    """(GRID*GRID coefficients, THUMB_SIDE**2): a thumbnail to its whole picture's 2-D DCT (the
    first window's; `_core.window_scores` computes the others' from their taps)."""
    c = _dct_matrix(_GRID)
    return (np.kron(c, c) @ _sampling(*WINDOWS[0])).astype(np.float32)


ASPECT_STEP = 0.1
"""Turned windows are made per band of log(width / height) this wide (about 10% of aspect)."""
_ASPECT_BANDS = 12  # bands each side of square: aspect ratios from 1:3.3 to 3.3:1


def aspect_bands(shape: np.ndarray | None, n: int) -> np.ndarray:
    """(n,) int: each picture's band of log aspect ratio (0 = square, also when unknown)."""
    if shape is None:
        return np.zeros(n, np.int64)
    bands = np.round(np.nan_to_num(shape[:, 0], nan=0.0) / ASPECT_STEP)
    return np.asarray(bands.clip(-_ASPECT_BANDS, _ASPECT_BANDS), dtype=np.int64)


_TURNED = len(WINDOWS) - _ALIGNED


def _variants(window: np.ndarray, band: np.ndarray) -> np.ndarray:
    """(n,) uint16: the row of `_window_tables` for each (window, aspect band): an axis-aligned
    window is one variant whatever the band, a turned one has one per band."""
    turned = _ALIGNED + (band.astype(np.int64) + _ASPECT_BANDS) * _TURNED + (window - _ALIGNED)
    return np.where(window < _ALIGNED, window, turned).astype(np.uint16)


@functools.cache
def _window_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every window variant (`_variants`) as flat arrays for `_core.window_scores`: the taps'
    cells (uint16) and weights (float32), (variants, GRID*GRID, 4), and the nearest sign cells
    (`_sign_points`), (variants, GRID*GRID)."""
    variants = [(w, 0) for w in range(_ALIGNED)] + [
        (w, band) for band in range(-_ASPECT_BANDS, _ASPECT_BANDS + 1) for w in range(_ALIGNED, len(WINDOWS))
    ]
    cells, weights, signs = [], [], []
    for w, band in variants:
        (x, y, degrees), aspect = WINDOWS[w], float(np.exp(band * ASPECT_STEP))
        c, k = _taps(x, y, degrees, aspect)
        cells.append(c)
        weights.append(k)
        signs.append(_sign_points(w, band))
    return (
        np.ascontiguousarray(np.stack(cells), np.uint16).ravel(),
        np.ascontiguousarray(np.stack(weights), np.float32).ravel(),
        np.ascontiguousarray(np.stack(signs), np.uint16).ravel(),
    )


_LOW_INDEX = np.array([u * _GRID + v for u in range(_LOW) for v in range(_LOW)])
# Mirroring a picture negates its odd horizontal frequencies (the whole window is symmetric).
_MIRROR_SIGN = np.array([(-1.0) ** (i % _GRID) for i in range(_GRID * _GRID)], dtype=np.float32)
_SHIFTS = np.arange(63, -1, -1, dtype=np.uint64)


# Coefficients are compared on a grid of 1/16 level. A float32 product sums a row differently by
# batch size and position (BLAS blocking), by up to about 1e-3 here; a coefficient that is exactly
# 0 or equal to its median (a gradient, stripes, a mirror-symmetric picture) then fell on either
# side of the median, so one picture got two hashes by what else was in the batch. The window
# hashes (`_core.window_hashes`) use the same grid, row by row; this copy serves
# `near_identical_leaders`.
_HASH_GRID = 16.0


def _hash(low: np.ndarray) -> np.ndarray:
    """64-bit hashes of (..., 64) coefficients: each against their median, first bit highest."""
    low = np.round(low * _HASH_GRID)
    bits = (low > np.median(low, axis=-1, keepdims=True)).astype(np.uint64)
    return (bits << _SHIFTS).sum(axis=-1, dtype=np.uint64)


def shapes(frame: pl.DataFrame) -> np.ndarray:
    """Per row, what the gray thumbnail hides: log(width / height), the shorter side in pixels,
    the colourfulness, the mean opponent colours (``chroma_rg``, ``chroma_yb``), the pixels' luma
    ``std`` (detail a flat thumbnail hides), the ``phash`` and ``phash_mirror`` (each as two
    exact 32-bit halves) and the share of near-black pixels (``dark_frac``: a dark sky), as an
    (n, `SHAPE_COLUMNS`) array (NaN where unknown). Width and height are the content's inside flat borders
    (``content_width``, ``content_height``) where the scan found such borders: the thumbnail
    shows that content."""

    def optional(name: str) -> pl.Expr:
        return pl.col(name).cast(pl.Float64) if name in frame.columns else pl.lit(None, pl.Float64)

    width = pl.coalesce(optional("content_width"), pl.col("width").cast(pl.Float64))
    height = pl.coalesce(optional("content_height"), pl.col("height").cast(pl.Float64))

    def halves(name: str) -> list[pl.Expr]:
        value = pl.col(name) if name in frame.columns else pl.lit(None, pl.UInt64)
        high, low = value // pl.lit(1 << 32, pl.UInt64), value % pl.lit(1 << 32, pl.UInt64)
        return [high.cast(pl.Float64).alias(f"{name}_high"), low.cast(pl.Float64).alias(f"{name}_low")]

    return (
        frame.select(
            (width / height).log().alias("aspect"),
            pl.min_horizontal(width, height).alias("side"),
            optional("colorfulness").alias("colour"),
            optional("chroma_rg").alias("rg"),
            optional("chroma_yb").alias("yb"),
            optional("std").alias("detail"),
            *halves("phash"),
            *halves("phash_mirror"),
            optional("dark_frac").alias("sky"),
        )
        .fill_null(float("nan"))
        .to_numpy()
    )


SHAPE_COLUMNS = 11
"""Columns of a `shapes` array."""
_DETAIL = 5
_HASHES = slice(6, 10)
_SKY = 10


def _check_shapes(*shapes: np.ndarray | None) -> None:
    if any(shape is not None and (shape.ndim != 2 or shape.shape[1] != SHAPE_COLUMNS) for shape in shapes):
        raise ValueError(f"shapes must be (n, {SHAPE_COLUMNS}) arrays, as `shapes` makes them")


def _level_matched(shape: np.ndarray | None, n: int) -> np.ndarray:
    """Which flat pictures match by level and hue (`BLANK_STD`; all, where shapes are unknown)."""
    if shape is None:
        return np.ones(n, bool)
    return np.nan_to_num(shape[:, _DETAIL], nan=0.0) < BLANK_STD


def _detail_matched(shape: np.ndarray | None, n: int) -> np.ndarray:
    """Which flat pictures match by their detail (`DETAIL_STD`, both pHashes known)."""
    if shape is None:
        return np.zeros(n, bool)
    return (np.nan_to_num(shape[:, _DETAIL], nan=0.0) >= DETAIL_STD) & ~np.isnan(shape[:, _HASHES]).any(axis=1)


def _whole_hashes(shape: np.ndarray) -> np.ndarray:
    """(n, 2) uint64: each picture's pHash and its mirror image's, from their halves in `shape`."""
    halves = np.nan_to_num(shape[:, _HASHES], nan=0.0).astype(np.uint64)
    return (halves[:, 0::2] << np.uint64(32)) | halves[:, 1::2]


def _flat_keys(thumbs: np.ndarray, shape: np.ndarray | None, grid: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """The level each flat picture is matched by in one hue grid: its mean gray, offset by 10,000
    per hue cell (mean opponent colours in cells of `FLAT_HUE_STEP`, shifted by `grid` cells), so
    only pictures of one hue are ever within FLAT_MEAN_DISTANCE of each other: a red and a green
    frame of one gray level do not match."""
    level = thumbs.mean(axis=1)
    if shape is None:
        return level
    hue = _hue_buckets(shape, len(thumbs), grid).astype(np.float64) + 64
    return level + 10_000.0 * (hue[:, 0] * 128 + hue[:, 1])


def _grids(shape: np.ndarray | None) -> tuple[tuple[float, float], ...]:
    """The hue grids to match flat pictures in: one when hues are unknown (all agree)."""
    return HUE_GRIDS if shape is not None else HUE_GRIDS[:1]


def _distinct(keys: np.ndarray) -> np.ndarray:
    """The distinct values of an integer array, sorted: by sorting (numpy 2.4's np.unique hashes,
    60 times slower on 9 million pair keys)."""
    ordered = np.sort(keys)
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]] if len(ordered) else ordered


def _unique_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each pair once, as (smaller, larger)."""
    lo, hi = np.minimum(a, b).astype(np.int64), np.maximum(a, b).astype(np.int64)
    keys = _distinct(lo << 32 | hi)
    return keys >> 32, keys & 0xFFFFFFFF


def thumbnails(frame: pl.DataFrame) -> np.ndarray:
    """The ``thumb`` column (92-byte codes, or raw 256-byte thumbnails of an earlier release) as
    an (n, 256) float32 array (no nulls allowed)."""
    return thumbcode.thumbnails(frame["thumb"].to_list()).astype(np.float32)


UNKNOWN_SIGNS = 255
"""The value a row's signs hold when its frame has no ``thumb_signs`` (a scan by an earlier
release): the sign check then passes its matches."""


def sign_maps(frame: pl.DataFrame) -> np.ndarray:
    """The ``thumb_signs`` column as an (n, 256) uint8 array of 0 and 1 (row-major 16x16); rows
    without signs (the column missing or null) hold `UNKNOWN_SIGNS`."""
    out = np.full((frame.height, THUMB_SIDE * THUMB_SIDE), UNKNOWN_SIGNS, np.uint8)
    if "thumb_signs" not in frame.columns:
        return out
    column = frame["thumb_signs"]
    known = column.is_not_null().to_numpy()
    if known.any():
        values = column.filter(column.is_not_null()).to_list()
        size = THUMB_SIDE * THUMB_SIDE // 8
        if any(len(v) != size for v in values):
            raise ValueError(f"thumb_signs must hold {size} bytes a row (the scan's sign map); this frame's do not")
        data = np.frombuffer(b"".join(values), np.uint8)
        out[known] = np.unpackbits(data.reshape(-1, size), axis=1)
    return out


@functools.cache
def _sign_points(window: int, band: int) -> np.ndarray:
    """(GRID*GRID,) flat indices into a 16x16 sign map: the nearest cell to each sample point of
    `window` (turned in aspect band `band`)."""
    x, y, degrees = WINDOWS[window]
    aspect = float(np.exp(band * ASPECT_STEP)) if window >= _ALIGNED else 1.0
    px, py = _window_points(x, y, degrees, aspect)
    s = THUMB_SIDE
    xi, yi = np.clip(np.round(px).astype(int), 0, s - 1), np.clip(np.round(py).astype(int), 0, s - 1)
    return yi * s + xi


_MIRROR_CELLS = np.arange(THUMB_SIDE * THUMB_SIDE).reshape(THUMB_SIDE, THUMB_SIDE)[:, ::-1].ravel()


def _agreement_and_chance(mine: np.ndarray, theirs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of two (n, 256) sign maps: the share of signs that agree, and the share two maps with
    as many positive signs agree on by chance."""
    mine_positive, theirs_positive = mine.mean(axis=1), theirs.mean(axis=1)
    chance = mine_positive * theirs_positive + (1 - mine_positive) * (1 - theirs_positive)
    return (mine == theirs).mean(axis=1), chance


def _window_hashes(thumbs: np.ndarray, bands: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per picture: (whole hash, mirror hash) as (n, 2), and every window's hash as (n, windows),
    the turned windows in each picture's aspect band (`aspect_bands`; square when None). Each
    window's 8x8 lowest DCT frequencies, on a grid of 1/16, against their median
    (`_core.window_hashes`, on all cores; a row's hashes never depend on the other rows)."""
    n = len(thumbs)
    bands = np.zeros(n, np.int64) if bands is None else np.asarray(bands, np.int64)
    tap_cells, tap_weights, _ = _window_tables()
    whole, mirror, index = _core.window_hashes(
        np.ascontiguousarray(thumbs, np.float32).ravel(),
        (bands + _ASPECT_BANDS).astype(np.uint16),
        _band_variants(),
        len(WINDOWS),
        tap_cells,
        tap_weights,
    )
    return np.stack([whole, mirror], axis=1), index.reshape(n, len(WINDOWS))


@functools.cache
def _band_variants() -> np.ndarray:
    """(2 * _ASPECT_BANDS + 1) * len(WINDOWS) uint16: the variant of each window, band by band."""
    window = np.tile(np.arange(len(WINDOWS)), 2 * _ASPECT_BANDS + 1)
    band = np.repeat(np.arange(-_ASPECT_BANDS, _ASPECT_BANDS + 1), len(WINDOWS))
    return _variants(window, band)


WindowHashes = tuple[np.ndarray, np.ndarray]
"""(whole and mirror hashes (n, 2), every window's hash (n, windows)) of a set of thumbnails."""


def window_hashes(thumbs: np.ndarray, shape: np.ndarray | None) -> WindowHashes:
    """The hashes the search looks pictures up by (`_window_hashes`), turned windows in each
    picture's aspect band (from `shapes`)."""
    return _window_hashes(thumbs, aspect_bands(shape, len(thumbs)))


def _hashes_at(rows: np.ndarray, thumbs: np.ndarray, bands: np.ndarray, known: WindowHashes | None) -> WindowHashes:
    """The window hashes of `thumbs`, rows `rows` of a set: taken from the set's `known` hashes
    (computed once for a chunk searched in many tiles), else computed."""
    return _window_hashes(thumbs, bands) if known is None else (known[0][rows], known[1][rows])


# Natural pictures carry most energy in the lowest frequencies, so a plain correlation mostly
# compares the broad gradient (two crops of one sky agree there). Weighing each coefficient by its
# frequency (1 + u + v) flattens that spectrum: the details decide.
_WEIGHT = np.array([1.0 + i // _GRID + i % _GRID for i in range(_GRID * _GRID)], dtype=np.float32)


def _unit_ac(coefficients: np.ndarray) -> np.ndarray:
    out = coefficients * _WEIGHT
    out[..., 0] = 0.0
    return out / np.maximum(np.linalg.norm(out, axis=-1, keepdims=True), 1e-9)


def _candidates(
    mine: tuple[np.ndarray, np.ndarray], theirs: tuple[np.ndarray, np.ndarray], distance: int
) -> pl.DataFrame:
    """Whole and mirror hashes of `mine` against the window hashes of `theirs` (each the
    `_window_hashes` of a set): ``query`` (row of `mine`), ``mirrored``, ``other`` (row of
    `theirs`), ``window``, ``d`` (bits)."""
    (whole, _), (_, index) = mine, theirs
    windows, m = index.shape[1], len(whole)
    q, i, d = _core.hamming_pairs_across(whole.T.ravel(), index.ravel(), distance)
    return pl.DataFrame({"q": q.astype(np.int64), "i": i.astype(np.int64), "d": d}).select(
        query=pl.col("q") % m,
        mirrored=pl.col("q") >= m,
        other=pl.col("i") // windows,
        window=pl.col("i") % windows,
        d="d",
    )


def _confirmed(
    candidates: pl.DataFrame, min_correlation: float, mine_shape: np.ndarray | None, theirs_shape: np.ndarray | None
) -> pl.DataFrame:
    """Per pair (``a``, ``b``) the best candidate among the windows within 2 bits of the pair's
    best (the others are worse fits), kept when its correlation clears the threshold and, for a
    window match, its signs agree. Only that best candidate is judged: a pair whose best window
    fails is not saved by a worse one. ``window_on_b``, when given, says whose window matched (b's by default)."""
    needed = (
        pl.when("mirrored")
        .then(pl.lit(max(min_correlation, MIN_MIRROR_CORRELATION)))
        .otherwise(pl.lit(min_correlation))
    )
    reshaped = small = recoloured = gray_and_colour = dark_sky = np.zeros(candidates.height, dtype=bool)
    if mine_shape is not None and theirs_shape is not None:
        mine, theirs = mine_shape[candidates["a"].to_numpy()], theirs_shape[candidates["b"].to_numpy()]
        # The shapes the match is between: one picture whole, the other's matched window.
        window_aspect = _WINDOW_ASPECT[candidates["window"].to_numpy()]
        on_b = candidates["window_on_b"].to_numpy() if "window_on_b" in candidates.columns else True
        change = (theirs[:, 0] - mine[:, 0]) + np.where(on_b, window_aspect, -window_aspect)
        reshaped = np.nan_to_num(np.abs(change), nan=0.0) > MAX_ASPECT_CHANGE
        small = np.nan_to_num(np.minimum(mine[:, 1], theirs[:, 1]), nan=np.inf) < SMALL_SIDE
        recoloured = _recoloured(mine[:, 2], theirs[:, 2])
        gray_mine, gray_theirs = mine[:, 2] < COLORED, theirs[:, 2] < COLORED  # NaN (unknown) is neither
        gray_and_colour = (gray_mine & (theirs[:, 2] >= COLORED)) | (gray_theirs & (mine[:, 2] >= COLORED))
        with np.errstate(invalid="ignore"):  # unknown (an earlier scan, an index saved before): no
            dark_sky = np.minimum(mine[:, _SKY], theirs[:, _SKY]) >= DARK_SKY_SHARE
    needed = pl.when("reshaped").then(pl.lit(max(min_correlation, MIN_RESHAPED_CORRELATION))).otherwise(needed)
    needed = pl.when("small").then(pl.lit(max(min_correlation, MIN_SMALL_CORRELATION))).otherwise(needed)
    needed = (
        pl.when("gray_and_colour").then(pl.max_horizontal(needed, pl.lit(MIN_GRAY_COLOR_CORRELATION))).otherwise(needed)
    )
    return (
        candidates.with_columns(
            reshaped=pl.Series(reshaped),
            small=pl.Series(small),
            gray_and_colour=pl.Series(gray_and_colour),
            dark_sky=pl.Series(dark_sky),
        )
        .filter(~pl.Series(recoloured))
        .sort("correlation", descending=True)
        .group_by("a", "b", maintain_order=True)
        .first()
        .filter(pl.col("correlation") >= needed)
        .filter((pl.col("window") == 0) | pl.col("agreement").is_nan() | (pl.col("agreement") >= _needed_agreement()))
        .select("a", "b", "correlation", "mirrored")
    )


def _needed_agreement() -> pl.Expr:
    """The sign agreement a window match needs: `MIN_SIGN_AGREEMENT`, or more where the maps agree
    that much by ``chance`` (`SIGN_BEYOND_CHANCE`; `DARK_SKY_SIGN_BEYOND_CHANCE` between two
    pictures on a dark sky)."""
    share = pl.when("dark_sky").then(pl.lit(DARK_SKY_SIGN_BEYOND_CHANCE)).otherwise(pl.lit(SIGN_BEYOND_CHANCE))
    beyond = pl.col("chance") + (1 - pl.col("chance")) * share
    return pl.max_horizontal(pl.lit(MIN_SIGN_AGREEMENT), beyond)


def _recoloured(mine: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """Two coloured pictures whose colourfulness differs more than MAX_COLOR_RATIO times."""
    low, high = np.fmin(mine, theirs), np.fmax(mine, theirs)
    recoloured = np.nan_to_num(low, nan=0.0) >= COLORED
    return recoloured & (high > MAX_COLOR_RATIO * np.where(recoloured, low, 1.0))


def _with_correlations(
    candidates: pl.DataFrame,
    mine: np.ndarray,
    theirs: np.ndarray,
    theirs_bands: np.ndarray | None = None,
    signs: tuple[np.ndarray, np.ndarray] | None = None,
) -> pl.DataFrame:
    """The candidates with their ``correlation`` (each query's whole picture, or its mirror image,
    against `other`'s `window`, turned in the other's aspect band) and, from `signs` (mine,
    theirs: `sign_maps`), their sign ``agreement`` and its ``chance`` (NaN without, or where
    either side's signs are unknown). The work is `_core.window_scores`, on all cores."""
    query, mirrored = candidates["query"].to_numpy(), candidates["mirrored"].to_numpy()
    other, window = candidates["other"].to_numpy(), candidates["window"].to_numpy()
    band = np.zeros(len(other), np.int64) if theirs_bands is None else theirs_bands[other]
    tap_cells, tap_weights, sign_cells = _window_tables()

    def flat(values: np.ndarray, dtype: type) -> np.ndarray:
        return np.ascontiguousarray(values, dtype).ravel()

    correlation, agreement, chance = _core.window_scores(
        flat(mine, np.float32),
        flat(theirs, np.float32),
        None if signs is None else flat(signs[0], np.uint8),
        None if signs is None else flat(signs[1], np.uint8),
        tap_cells,
        tap_weights,
        sign_cells,
        flat(query, np.uint32),
        flat(mirrored, np.bool_),
        flat(other, np.uint32),
        _variants(window, band),
    )
    return candidates.with_columns(
        correlation=pl.Series(correlation, dtype=pl.Float32),
        agreement=pl.Series(agreement, dtype=pl.Float32),
        chance=pl.Series(chance, dtype=pl.Float32),
    )


def _near_best(candidates: pl.DataFrame) -> pl.DataFrame:
    return candidates.filter(pl.col("d") <= pl.col("d").min().over("a", "b") + 2)


def _expand_ranges(start: np.ndarray, count: np.ndarray) -> np.ndarray:
    """The positions start[i], start[i] + 1, ..., start[i] + count[i] - 1, for every i in turn."""
    offsets = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    return np.repeat(start, count) + offsets


def _flat_pairs(
    means: np.ndarray, rows: np.ndarray, max_pairs: int | None, chain: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of flat pictures whose means differ by at most FLAT_MEAN_DISTANCE; with `chain`,
    only neighbours in the order of the means (the same groups, never k(k-1)/2 pairs)."""
    order = np.argsort(means, kind="stable")
    sorted_means = means[order]
    if chain:
        close = np.flatnonzero(np.diff(sorted_means) <= FLAT_MEAN_DISTANCE)
        return rows[order[close]], rows[order[close + 1]]
    ends = np.searchsorted(sorted_means, sorted_means + FLAT_MEAN_DISTANCE, side="right")
    counts = ends - np.arange(len(order)) - 1
    total = int(counts.sum())
    if max_pairs is not None and total > max_pairs:
        raise TooManyPairs(total)
    first = np.arange(len(order))
    return rows[order[np.repeat(first, counts)]], rows[order[_expand_ranges(first + 1, counts)]]


def _signs_beyond_chance(mine: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """Per row, the share of the agreement two sign maps leave to chance that they reach; NaN where
    either is unknown or chance leaves nothing (both maps all one sign)."""
    agree, chance = _agreement_and_chance(mine, theirs)
    with np.errstate(divide="ignore", invalid="ignore"):
        beyond = np.where(chance < 1 - 1e-9, (agree - chance) / (1 - chance), np.nan)
    beyond[(mine[:, 0] == UNKNOWN_SIGNS) | (theirs[:, 0] == UNKNOWN_SIGNS)] = np.nan
    return beyond


@dataclasses.dataclass(frozen=True)
class _Flats:
    """Flat pictures with detail, as `_detail_pairs` reads them: mean levels, hue cells in each of
    the `HUE_GRIDS` (grids, n, 2), pHashes (n, 2) and sign maps (None: unknown)."""

    means: np.ndarray
    hues: np.ndarray
    hashes: np.ndarray
    signs: np.ndarray | None

    @classmethod
    def of(cls, thumbs: np.ndarray, shape: np.ndarray, signs: np.ndarray | None) -> _Flats:
        hues = np.stack([_hue_buckets(shape, len(shape), grid) for grid in HUE_GRIDS])
        return cls(thumbs.mean(axis=1), hues, _whole_hashes(shape), signs)


SIGN_BATCH = 65_536
"""Pairs of flat pictures whose sign maps are compared at a time (about 1 KB of working memory a
pair): a chunk of near-identical star fields can hold millions of candidate pairs."""


def _signs_agree(mine: _Flats, theirs: _Flats, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per pair (row of `mine`, row of `theirs`), whether their whole sign maps agree
    `FLAT_SIGN_BEYOND_CHANCE` beyond chance (or either is unknown); through the mirror image where
    that is how the pHashes met."""
    assert mine.signs is not None and theirs.signs is not None
    theirs_signs = theirs.signs[b]
    direct = _bit_counts(mine.hashes[a, 0] ^ theirs.hashes[b, 0])
    via_mirror = np.minimum(
        _bit_counts(mine.hashes[a, 1] ^ theirs.hashes[b, 0]),
        _bit_counts(mine.hashes[a, 0] ^ theirs.hashes[b, 1]),
    )
    mirrored = via_mirror < direct
    theirs_signs[mirrored] = theirs_signs[mirrored][:, _MIRROR_CELLS]
    beyond = _signs_beyond_chance(mine.signs[a], theirs_signs)
    return np.isnan(beyond) | (beyond >= FLAT_SIGN_BEYOND_CHANCE)


def _detail_pairs(
    mine: _Flats, theirs: _Flats, *, within: bool, max_pairs: int | None = None, chain: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (row of `mine`, row of `theirs`) of flat pictures with detail that match
    (`DETAIL_STD`), searched `DETAIL_CHUNK` of mine at a time. With `within` (one set on both
    sides) each pair once, as (smaller, larger); with `chain` only a spanning forest of the links
    (the same groups, at most one link per picture). Raises `TooManyPairs` past `max_pairs`."""
    searches = [(0, 0), (1, 0)] if within else [(0, 0), (1, 0), (0, 1)]
    their_hashes = [np.ascontiguousarray(theirs.hashes[:, t]) for t in (0, 1)]
    found_a: list[np.ndarray] = []
    found_b: list[np.ndarray] = []
    total = 0
    for start in range(0, len(mine.means), DETAIL_CHUNK):
        queries = mine.hashes[start : start + DETAIL_CHUNK]
        hits = [
            _core.hamming_pairs_across(np.ascontiguousarray(queries[:, m]), their_hashes[t], FLAT_DETAIL_DISTANCE)[:2]
            for m, t in searches
        ]
        a = np.concatenate([x for x, _ in hits]).astype(np.int64) + start
        b = np.concatenate([y for _, y in hits]).astype(np.int64)
        if within:
            a, b = _unique_pairs(a[a != b], b[a != b])
        else:
            keys = _distinct(a << 32 | b)
            a, b = keys >> 32, keys & 0xFFFFFFFF
        keep = np.abs(mine.means[a] - theirs.means[b]) <= FLAT_MEAN_DISTANCE
        a, b = a[keep], b[keep]
        keep = np.logical_or.reduce([(mine.hues[g, a] == theirs.hues[g, b]).all(axis=1) for g in range(len(HUE_GRIDS))])
        a, b = a[keep], b[keep]
        if mine.signs is not None and theirs.signs is not None:
            keep = np.concatenate(
                [np.zeros(0, bool)]
                + [
                    _signs_agree(mine, theirs, a[i : i + SIGN_BATCH], b[i : i + SIGN_BATCH])
                    for i in range(0, len(a), SIGN_BATCH)
                ]
            )
            a, b = a[keep], b[keep]
        found_a.append(a)
        found_b.append(b)
        total += len(a)
        if max_pairs is not None and total > max_pairs:
            raise TooManyPairs(total)
        if chain and total > 4 * len(mine.means):
            found_a, found_b = _forest(len(mine.means), found_a, found_b)
            total = len(found_a[0])
    a, b = np.concatenate([np.zeros(0, np.int64), *found_a]), np.concatenate([np.zeros(0, np.int64), *found_b])
    if chain:
        (a,), (b,) = _forest(len(mine.means), [a], [b])
    return a, b


def _bit_counts(values: np.ndarray) -> np.ndarray:
    """Set bits of each uint64 (numpy 1.x has no bitwise_count)."""
    return np.unpackbits(np.ascontiguousarray(values, np.uint64).view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)


def _forest(n: int, a: list[np.ndarray], b: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A spanning forest of links among n pictures: each picture to the smallest of its component."""
    root = _core.hamming_components(n, np.concatenate(a).astype(np.uint32), np.concatenate(b).astype(np.uint32))
    rows = np.flatnonzero(root != np.arange(n))
    return [rows.astype(np.int64)], [root[rows].astype(np.int64)]


def _flat_links(
    thumbs: np.ndarray,
    shape: np.ndarray | None,
    signs: np.ndarray | None,
    rows: np.ndarray,
    max_pairs: int | None,
    chain: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """The links among flat pictures (their thumbnails, shapes, sign maps and row numbers): by
    level in every hue grid among those under `BLANK_STD` (`_flat_pairs`; with `chain`,
    neighbours in level only), by detail among those from `DETAIL_STD` (`_detail_pairs`)."""
    by_level = _level_matched(shape, len(rows))
    level_shape = None if shape is None else shape[by_level]
    found = [
        _flat_pairs(_flat_keys(thumbs[by_level], level_shape, grid), rows[by_level], max_pairs, chain)
        for grid in _grids(level_shape)
    ]
    by_detail = np.flatnonzero(_detail_matched(shape, len(rows)))
    if shape is not None and len(by_detail) > 1:
        flats = _Flats.of(thumbs[by_detail], shape[by_detail], None if signs is None else signs[by_detail])
        a, b = _detail_pairs(flats, flats, within=True, max_pairs=max_pairs, chain=chain)
        found.append((rows[by_detail[a]], rows[by_detail[b]]))
    return _unique_pairs(np.concatenate([a for a, _ in found]), np.concatenate([b for _, b in found]))


class TooManyPairs(ValueError):
    """More pairs than the caller allowed; ``count`` says how many."""

    def __init__(self, count: int) -> None:
        super().__init__(count)
        self.count = count


def matched_pairs(
    thumbs: np.ndarray,
    shape: np.ndarray | None = None,
    *,
    signs: np.ndarray | None = None,
    candidate_distance: int | None = None,
    min_correlation: float | None = None,
    max_pairs: int | None = None,
    chain_flat: bool = False,
    hashes: WindowHashes | None = None,
) -> pl.DataFrame:
    """Every pair of pictures the rule links, from their (n, 256) thumbnails and, when known,
    their `shapes` (without them shape and size are not considered) and `sign_maps` (without
    them window matches are not checked against the finer layout). `hashes`, when given, are the
    thumbnails' `window_hashes` (computed once for a chunk searched in many tiles).

    Returns:
        ``a``, ``b`` (row numbers, ``a < b``), ``correlation`` (of the best confirmed window; null
        for two flat pictures), ``mirrored`` (matched through a mirror image), sorted by ``a``,
        ``b``. Raises `TooManyPairs` past `max_pairs` flat pairs (groups of k blank frames hold
        k(k-1)/2; a grid's own count can raise it first); with `chain_flat`, flat pictures are
        linked to their neighbour in mean only, in each hue grid (same groups, at most
        len(HUE_GRIDS) * n pairs).
    """
    _check_shapes(shape)
    candidate_distance = CANDIDATE_DISTANCE if candidate_distance is None else candidate_distance
    min_correlation = MIN_CORRELATION if min_correlation is None else min_correlation
    std = thumbs.std(axis=1)
    flat = std < FLAT_STD
    textured = np.flatnonzero(~flat).astype(np.int64)
    flat_shape = None if shape is None else shape[flat]
    flat_signs = None if signs is None else signs[flat]
    fa, fb = _flat_links(
        thumbs[flat], flat_shape, flat_signs, np.flatnonzero(flat).astype(np.int64), max_pairs, chain_flat
    )
    if max_pairs is not None and len(fa) > max_pairs:
        raise TooManyPairs(len(fa))
    flats = pl.DataFrame({"a": fa, "b": fb}, schema={"a": pl.Int64, "b": pl.Int64}).with_columns(
        correlation=pl.lit(None, pl.Float32), mirrored=pl.lit(False)
    )
    if len(textured) < 2:
        return _finish(flats)
    local = thumbs[textured]
    local_shape = None if shape is None else shape[textured]
    bands = aspect_bands(local_shape, len(local))
    local_hashes = _hashes_at(textured, local, bands, hashes)
    candidates = _near_best(
        _candidates(local_hashes, local_hashes, candidate_distance)
        .filter(pl.col("query") != pl.col("other"))
        .with_columns(a=pl.min_horizontal("query", "other"), b=pl.max_horizontal("query", "other"))
        .with_columns(window_on_b=pl.col("other") == pl.col("b"))
    )
    if candidates.height == 0:
        return _finish(flats)
    local_signs = None if signs is None else (signs[textured], signs[textured])
    confirmed = _confirmed(
        _with_correlations(candidates, local, local, bands, local_signs), min_correlation, local_shape, local_shape
    )
    rows = pl.Series(textured)
    confirmed = confirmed.with_columns(a=rows.gather(confirmed["a"]), b=rows.gather(confirmed["b"]))
    return _finish(pl.concat([flats, confirmed], how="vertical_relaxed"))


def matched_row_pairs(
    thumbs: np.ndarray, shape: np.ndarray | None = None, *, signs: np.ndarray | None = None
) -> pl.DataFrame:
    """`matched_pairs` for rows that may repeat a picture: the distinct pictures
    (`distinct_pictures`) are searched once and their pairs spread to every row of each, and the
    rows of one picture are paired with each other (``correlation`` 1 for textured ones, null for
    flat ones), so 2,000 copies of one file cost their 2e6 pairs, not a search of 2e6 candidates
    (4 GB). The same pairs as `matched_pairs` on the rows, plus copies the rule cannot judge (a
    flat picture with unknown detail) paired as `matched_groups` groups them."""
    distinct, which, first = distinct_pictures(thumbs, shape)
    found = matched_pairs(
        distinct, None if shape is None else shape[first], signs=None if signs is None else signs[first]
    )
    order = np.argsort(which, kind="stable")
    counts = np.bincount(which, minlength=len(distinct))
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    p, q = found["a"].to_numpy().astype(np.int64), found["b"].to_numpy().astype(np.int64)
    per_pair = counts[p] * counts[q]
    pair_of = np.repeat(np.arange(len(p)), per_pair)
    offset = np.arange(int(per_pair.sum())) - np.repeat(np.cumsum(per_pair) - per_pair, per_pair)
    a = order[starts[p[pair_of]] + offset // counts[q[pair_of]]]
    b = order[starts[q[pair_of]] + offset % counts[q[pair_of]]]
    across = pl.DataFrame(
        {
            "a": a,
            "b": b,
            "correlation": found["correlation"].gather(pl.Series(pair_of)),
            "mirrored": found["mirrored"].gather(pl.Series(pair_of)),
        }
    )
    # Rows of one picture, every pair, by copy count (few distinct counts).
    within_a, within_b, within_picture = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for count in np.unique(counts[counts > 1]):
        pictures = np.flatnonzero(counts == count)
        i, j = np.triu_indices(int(count), 1)
        within_a.append(order[(starts[pictures][:, None] + i).ravel()])
        within_b.append(order[(starts[pictures][:, None] + j).ravel()])
        within_picture.append(np.repeat(pictures, len(i)))
    picture = np.concatenate(within_picture)
    textured = (distinct.std(axis=1) >= FLAT_STD)[picture]
    same = pl.DataFrame(
        {
            "a": np.concatenate(within_a),
            "b": np.concatenate(within_b),
            "correlation": pl.Series(np.where(textured, 1.0, np.nan), dtype=pl.Float32).fill_nan(None),
            "mirrored": np.zeros(len(picture), bool),
        }
    )
    both = pl.concat([across, same], how="vertical_relaxed")
    return _finish(both.with_columns(a=pl.min_horizontal("a", "b"), b=pl.max_horizontal("a", "b")))


def matched_pairs_across(
    mine: np.ndarray,
    theirs: np.ndarray,
    mine_shape: np.ndarray | None = None,
    theirs_shape: np.ndarray | None = None,
    *,
    mine_signs: np.ndarray | None = None,
    theirs_signs: np.ndarray | None = None,
    candidate_distance: int | None = None,
    min_correlation: float | None = None,
    max_flat_pairs: int | None = None,
    mine_hashes: WindowHashes | None = None,
    theirs_hashes: WindowHashes | None = None,
) -> pl.DataFrame:
    """The pairs the rule links between two sets of thumbnails (each way round: a crop may be
    on either side); shapes, `sign_maps` and hashes as in `matched_pairs` (signs count when both
    sides have them).

    Returns:
        ``a`` (row of `mine`), ``b`` (row of `theirs`), ``correlation`` (null for two flat
        pictures), ``mirrored``, sorted by ``a``, ``b``. Every flat pair is listed; past
        `max_flat_pairs` of them, `TooManyPairs` is raised instead.
    """
    _check_shapes(mine_shape, theirs_shape)
    candidate_distance = CANDIDATE_DISTANCE if candidate_distance is None else candidate_distance
    min_correlation = MIN_CORRELATION if min_correlation is None else min_correlation
    flat_mine, flat_theirs = mine.std(axis=1) < FLAT_STD, theirs.std(axis=1) < FLAT_STD
    # Hues and detail compare only when both sides know them (else a known hue's key offset
    # parts them).
    both = mine_shape is not None and theirs_shape is not None
    found_a, found_b = [], []
    level_mine, level_theirs = flat_mine, flat_theirs
    if both and mine_shape is not None and theirs_shape is not None:
        # Flat pictures with detail match by it (`_flat_links`), those under BLANK_STD by level.
        my_rows = np.flatnonzero(flat_mine & _detail_matched(mine_shape, len(mine)))
        their_rows = np.flatnonzero(flat_theirs & _detail_matched(theirs_shape, len(theirs)))
        if len(my_rows) and len(their_rows):
            a, b = _detail_pairs(
                _Flats.of(mine[my_rows], mine_shape[my_rows], None if mine_signs is None else mine_signs[my_rows]),
                _Flats.of(
                    theirs[their_rows],
                    theirs_shape[their_rows],
                    None if theirs_signs is None else theirs_signs[their_rows],
                ),
                within=False,
                max_pairs=max_flat_pairs,
            )
            found_a.append(my_rows[a])
            found_b.append(their_rows[b])
        level_mine = flat_mine & _level_matched(mine_shape, len(mine))
        level_theirs = flat_theirs & _level_matched(theirs_shape, len(theirs))
    # Each of mine under BLANK_STD against the range of their levels within FLAT_MEAN_DISTANCE,
    # in every hue grid.
    my_shape = mine_shape[level_mine] if both and mine_shape is not None else None
    their_shape = theirs_shape[level_theirs] if both and theirs_shape is not None else None
    my_rows, all_their_rows = np.flatnonzero(level_mine), np.flatnonzero(level_theirs)
    for grid in _grids(my_shape):
        level = _flat_keys(theirs[level_theirs], their_shape, grid)
        order = np.argsort(level, kind="stable")
        level, their_rows = level[order], all_their_rows[order]
        my_level = _flat_keys(mine[level_mine], my_shape, grid)
        start = np.searchsorted(level, my_level - FLAT_MEAN_DISTANCE, side="left")
        count = np.searchsorted(level, my_level + FLAT_MEAN_DISTANCE, side="right") - start
        if max_flat_pairs is not None and int(count.sum()) > max_flat_pairs:
            raise TooManyPairs(int(count.sum()))
        found_a.append(np.repeat(my_rows, count))
        found_b.append(their_rows[_expand_ranges(start, count)])
    # Distinct (mine, theirs) pairs: rows of two sets, so no ordering within a pair.
    keys = _distinct(np.concatenate(found_a).astype(np.int64) << 32 | np.concatenate(found_b).astype(np.int64))
    if max_flat_pairs is not None and len(keys) > max_flat_pairs:
        raise TooManyPairs(len(keys))
    flats = pl.DataFrame(
        {"a": keys >> 32, "b": keys & 0xFFFFFFFF},
        schema={"a": pl.Int64, "b": pl.Int64},
    ).with_columns(correlation=pl.lit(None, pl.Float32), mirrored=pl.lit(False))
    ours, other = np.flatnonzero(~flat_mine).astype(np.int64), np.flatnonzero(~flat_theirs).astype(np.int64)
    if len(ours) == 0 or len(other) == 0:
        return _finish(flats)
    m, t = mine[ours], theirs[other]
    m_bands = aspect_bands(None if mine_shape is None else mine_shape[ours], len(m))
    t_bands = aspect_bands(None if theirs_shape is None else theirs_shape[other], len(t))
    m_hashes, t_hashes = _hashes_at(ours, m, m_bands, mine_hashes), _hashes_at(other, t, t_bands, theirs_hashes)
    signs = None
    if mine_signs is not None and theirs_signs is not None:
        signs = (mine_signs[ours], theirs_signs[other])
    # Only the windows near each pair's best are scored (`_near_best`, as `_confirmed` judges).
    candidates = _near_best(
        pl.concat(
            [
                _candidates(m_hashes, t_hashes, candidate_distance).with_columns(
                    a="query", b="other", window_on_b=pl.lit(True)
                ),
                _candidates(t_hashes, m_hashes, candidate_distance).with_columns(
                    a="other", b="query", window_on_b=pl.lit(False)
                ),
            ]
        )
    )
    candidates = pl.concat(
        [
            _with_correlations(candidates.filter("window_on_b"), m, t, t_bands, signs),
            _with_correlations(
                candidates.filter(~pl.col("window_on_b")), t, m, m_bands, None if signs is None else signs[::-1]
            ),
        ]
    )
    confirmed = _confirmed(
        candidates,
        min_correlation,
        None if mine_shape is None else mine_shape[ours],
        None if theirs_shape is None else theirs_shape[other],
    )
    confirmed = confirmed.with_columns(
        a=pl.Series(ours).gather(confirmed["a"]), b=pl.Series(other).gather(confirmed["b"])
    )
    return _finish(pl.concat([flats, confirmed], how="vertical_relaxed"))


def _finish(pairs: pl.DataFrame) -> pl.DataFrame:
    return pairs.select(pl.col("a").cast(pl.UInt32), pl.col("b").cast(pl.UInt32), "correlation", "mirrored").sort(
        "a", "b"
    )


def _hue_buckets(shape: np.ndarray | None, n: int, grid: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """(n, 2) int8: the mean opponent colours in cells of FLAT_HUE_STEP, shifted by `grid` cells;
    an unknown hue (GIF, CMYK) is a bucket of its own, so it is never taken for gray."""
    if shape is None:
        return np.zeros((n, 2), np.int8)
    cells = np.round(shape[:, 3:5] / FLAT_HUE_STEP + np.asarray(grid))
    return np.nan_to_num(cells, nan=63.0).clip(-63, 63).astype(np.int8)


def distinct_pictures(thumbs: np.ndarray, shape: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct pictures (thumbnail and hue), per picture which one it is, and each one's
    first picture: 100,000 copies of one picture are searched once, not paired 5e9 times, and a
    red and a green frame with one gray thumbnail stay two pictures. Pictures come in the order
    of their content, not of their rows.

    What the rule's bars read besides the thumbnail (aspect, shorter side, colourfulness) is part
    of a picture too: a 32 px picture and its 128 px enlargement share a thumbnail, but a crop of
    the large one is judged against the large one's size, whichever row comes first."""
    parts = [thumbs.astype(np.uint8), _hue_buckets(shape, len(thumbs)).view(np.uint8)]
    if shape is not None:
        parts.append(np.ascontiguousarray(shape[:, :3], dtype=np.float64).view(np.uint8))
        # Flat pictures with detail are told apart by their pHashes (`_flat_links`).
        detailed = (thumbs.std(axis=1) < FLAT_STD) & _detail_matched(shape, len(thumbs))
        hashes = np.where(detailed[:, None], _whole_hashes(shape), np.uint64(0))
        parts += [detailed[:, None].view(np.uint8), np.ascontiguousarray(hashes).view(np.uint8)]
    rows = np.concatenate(parts, axis=1)
    keys = np.ascontiguousarray(rows).view(np.dtype((np.void, rows.shape[1])))[:, 0]
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return thumbs[first], inverse.ravel(), first


def _bar_class(shape: np.ndarray, n: int) -> np.ndarray:
    """(n,) int: what sets the rule's bars for a picture besides its thumbnail: small or not
    (`SMALL_SIDE`), coloured or not (`COLORED`) and its aspect band. A follower and its leader
    share it, so what matches a follower matches its leader under the same bars: a crop of a
    128 px picture is not judged against a 32 px leader's bar for small pictures."""
    side, colour = shape[:, 1], shape[:, 2]
    small = np.nan_to_num(side, nan=np.inf) < SMALL_SIDE
    coloured = np.nan_to_num(colour, nan=-1.0) >= COLORED
    unknown = np.isnan(colour)
    band = aspect_bands(shape, n) + _ASPECT_BANDS
    return ((band * 2 + small) * 2 + coloured) * 2 + unknown


NEAR_IDENTICAL = 0.985
"""Correlation from which two textured pictures with one whole hash are one picture to the group
search (JPEG re-encodes of one photo at slightly different brightness measure 0.998 on raw
thumbnails, 0.990-0.995 through the thumbnail's code, `thumbcode`): above every bar of the rule
(at most `MIN_SMALL_CORRELATION`), so each such pair is a link the rule makes anyway."""


def near_identical_leaders(thumbs: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """Per textured picture, its leader: the first picture with its whole hash and its `_bar_class`
    when the two correlate at NEAR_IDENTICAL or more and pass the colour check, else itself. A
    follower is linked to its leader (a link the rule makes anyway) and never searched against
    another follower, so a burst of 10,000 re-encodes of one photo is not 5e7 candidate pairs."""
    n = len(thumbs)
    leader = np.arange(n)
    if n < 2:
        return leader
    low = _whole_map()[_LOW_INDEX]  # (64, 256): the whole picture's low frequencies
    whole = _hash(thumbs @ low.T)
    key = _bar_class(shape, n)
    order = np.lexsort((whole, key))  # by class, then hash; stable: within a bucket, content order
    whole, key = whole[order], key[order]
    first = np.flatnonzero(np.r_[True, (whole[1:] != whole[:-1]) | (key[1:] != key[:-1])])
    bucket_first = order[np.repeat(first, np.diff(np.r_[first, n]))]  # per sorted row, its bucket's first row
    shared = np.flatnonzero(bucket_first != order)  # sorted positions with an earlier row of one hash
    _join_near_heads(thumbs, shape, order[first], whole[first], key[first], leader)
    if len(shared) == 0:
        return leader
    rows, heads = order[shared], bucket_first[shared]
    full = _whole_map()
    # Each bucket's first picture once, however many pictures share its hash.
    distinct_heads, head_of = np.unique(heads, return_inverse=True)
    head_units = _unit_ac(thumbs[distinct_heads] @ full.T)[head_of.ravel()]
    correlation = np.einsum("ij,ij->i", _unit_ac(thumbs[rows] @ full.T), head_units)
    joins = (correlation >= NEAR_IDENTICAL) & ~_recoloured(shape[rows, 2], shape[heads, 2])
    leader[rows[joins]] = heads[joins]
    return leader


NEAR_HASH_BITS = 4
"""Bits between the whole hashes of two bucket heads of `near_identical_leaders` that are
checked for being near-identical too. Noise flips a few bits of a burst's hashes: 3,000 noisy
re-encodes of one photo (all correlating 0.989 or more) held 595 hashes, each a leader searched
against the others (4 GB); within 4 bits they chain to one."""


def _join_near_heads(
    thumbs: np.ndarray, shape: np.ndarray, heads: np.ndarray, whole: np.ndarray, key: np.ndarray, leader: np.ndarray
) -> None:
    """Makes each bucket head (`heads`, with their whole hashes and bar classes) a follower of the
    first earlier head (in content order) of its class within NEAR_HASH_BITS bits that it
    correlates with at NEAR_IDENTICAL or more (colour check passed). Each link is one the rule
    makes; chains of them leave one leader to search."""
    if len(heads) < 2:
        return
    i, j, _ = _core.hamming_pairs(np.ascontiguousarray(whole, np.uint64), NEAR_HASH_BITS)
    same = key[i] == key[j]
    a, b = np.minimum(heads[i], heads[j])[same], np.maximum(heads[i], heads[j])[same]
    if len(a) == 0:
        return
    # The transform only for the heads in a candidate pair (a few of a million, usually).
    involved, at = np.unique(np.concatenate([a, b]), return_inverse=True)
    units = _unit_ac(thumbs[involved] @ _whole_map().T)
    a_at, b_at = at[: len(a)], at[len(a) :]
    correlation = np.concatenate(
        [np.zeros(0, np.float32)]
        + [
            np.einsum("ij,ij->i", units[a_at[s : s + 65_536]], units[b_at[s : s + 65_536]])
            for s in range(0, len(a), 65_536)
        ]
    )
    ok = (correlation >= NEAR_IDENTICAL) & ~_recoloured(shape[a, 2], shape[b, 2])
    earliest = np.full(len(thumbs), len(thumbs))
    np.minimum.at(earliest, b[ok], a[ok])
    joined = np.flatnonzero(earliest < len(thumbs))
    leader[joined] = earliest[joined]


TILE_SIZE = 16_384
"""Textured pictures per chunk of `matched_groups`' search, by default: a tile (one chunk, or two
against each other) holds at most twice this many. Unrelated pictures make candidate pairs at a
rate per pair, so one search over everything holds a number of candidates that grows with the
square of the collection (1.8 GB at 60,452 files); tiles keep memory to that of one tile
at any size, for the same groups."""

Chunk = tuple[np.ndarray, np.ndarray, np.ndarray | None, WindowHashes]
"""Rows of a search split in tiles: (thumbnails, shapes, sign maps or None, `window_hashes`)."""


def chunk(thumbs: np.ndarray, shape: np.ndarray, signs: np.ndarray | None) -> Chunk:
    """A `Chunk` of textured pictures, their window hashes computed once for all its tiles."""
    return thumbs, shape, signs, window_hashes(thumbs, shape)


def tile_links(mine: Chunk, theirs: Chunk | None, first: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The links of one tile of a search split in chunks: within chunk `mine` (``theirs`` None)
    or between two chunks, each given as (thumbnails, shapes, sign maps) of textured pictures;
    row numbers are offset by `first` (the chunks' first rows), and each link comes with its
    window correlation. Every pair of rows is in exactly one tile, so the tiles' links together
    are the links of one search."""
    if theirs is None:
        pairs = matched_pairs(mine[0], mine[1], signs=mine[2], hashes=mine[3])
        offset = first[0], first[0]
    else:
        pairs = chunk_pairs_across(mine, theirs)
        offset = first
    return (
        pairs["a"].to_numpy().astype(np.int64) + offset[0],
        pairs["b"].to_numpy().astype(np.int64) + offset[1],
        pairs["correlation"].to_numpy().astype(np.float32),
    )


def chunk_pairs_across(mine: Chunk, theirs: Chunk, max_flat_pairs: int | None = None) -> pl.DataFrame:
    """`matched_pairs_across` between two chunks, with the hashes they carry."""
    return matched_pairs_across(
        mine[0],
        theirs[0],
        mine[1],
        theirs[1],
        mine_signs=mine[2],
        theirs_signs=theirs[2],
        max_flat_pairs=max_flat_pairs,
        mine_hashes=mine[3],
        theirs_hashes=theirs[3],
    )


def matched_groups(
    thumbs: np.ndarray,
    shape: np.ndarray | None = None,
    *,
    signs: np.ndarray | None = None,
    chunk_size: int | None = None,
    run_tiles: Callable[[list[tuple[Any, Any, tuple[int, int]]]], Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]]
    | None = None,
    put: Callable[[Any], Any] = lambda value: value,
    cut: bool = True,
    on_tile: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Per picture, the smallest row of its group: the connected components of `matched_pairs`,
    each cut where it hangs on a few links between two densely linked parts (`cuts`; with
    ``cut=False`` the plain components, which bound the pairs `matched_pairs` can list).

    Identical thumbnails are one picture to the search (with the shape of the first), so are
    near-identical ones (`near_identical_leaders`), and flat pictures are linked by level here,
    so no tile ever pairs 100,000 blank frames or a burst of re-encodes. The textured pictures
    are searched in chunks of `chunk_size` (`TILE_SIZE` by default), as tiles of one chunk or two
    handed to `run_tiles` (arguments for `tile_links`, after `put`; e.g. Ray tasks): the same
    groups for any chunk size, in the memory of one tile. `on_tile(done, total)` is called as each
    tile's links arrive (progress).
    """
    _check_shapes(shape)
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, not {chunk_size}")
    distinct, which, first = distinct_pictures(thumbs, shape)
    n, k = len(thumbs), len(distinct)
    shape = np.full((k, SHAPE_COLUMNS), np.nan) if shape is None else shape[first]
    # One picture's signs for all its identical copies: any copy links to it through the whole
    # picture, where signs are not checked. (A third picture's window match is checked against
    # the first copy's signs; copies of one thumbnail rarely differ in them.)
    signs = None if signs is None else signs[first]
    flat = distinct.std(axis=1) < FLAT_STD
    fa, fb = _flat_links(
        distinct[flat], shape[flat], None if signs is None else signs[flat], np.flatnonzero(flat), None, chain=True
    )
    textured = np.flatnonzero(~flat)
    # Near-identical pictures (a burst of re-encodes) are linked to their leader, and searched
    # only against the pictures that lead or stand alone, never against each other: what links a
    # follower to another picture is still found (window hashes are not transitive), and a burst
    # of k costs k searches, not k(k-1)/2.
    leader = near_identical_leaders(distinct[textured], shape[textured])
    followers = np.flatnonzero(leader != np.arange(len(textured)))
    follower_rows, leader_rows = textured[followers], textured[leader == np.arange(len(textured))]
    size = TILE_SIZE if chunk_size is None else chunk_size

    def chunks(rows: np.ndarray) -> tuple[list[int], list[Any]]:
        starts = list(range(0, len(rows), size))
        parts = (rows[s : s + size] for s in starts)
        return starts, [put(chunk(distinct[r], shape[r], None if signs is None else signs[r])) for r in parts]

    (leader_starts, leaders), (follower_starts, followers_chunks) = chunks(leader_rows), chunks(follower_rows)
    # Every pair of leaders in one tile (a chunk alone, or two), every follower against every leader.
    tiles = [
        (leaders[i], None if i == j else leaders[j], (leader_starts[i], leader_starts[j]))
        for i in range(len(leaders))
        for j in range(i, len(leaders))
    ]
    follower_tiles = [
        (followers_chunks[i], leaders[j], (follower_starts[i], leader_starts[j]))
        for i in range(len(followers_chunks))
        for j in range(len(leaders))
    ]
    run = run_tiles or (lambda work: (tile_links(*tile) for tile in work))
    total, done = len(follower_tiles) + len(tiles), 0

    def runner(work: list[tuple[Any, Any, tuple[int, int]]]) -> Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        nonlocal done
        for found in run(work) if work else ():
            done += 1
            if on_tile is not None:
                on_tile(done, total)
            yield found

    # A follower is near-identical to its leader: the best score a link can have.
    links = [(follower_rows, textured[leader[followers]], np.ones(len(followers), np.float32))]
    links += [(follower_rows[a], leader_rows[b], score) for a, b, score in runner(follower_tiles)]
    links += [(leader_rows[a], leader_rows[b], score) for a, b, score in runner(tiles)]
    la = np.concatenate([x for x, _, _ in links]).astype(np.int64)
    lb = np.concatenate([y for _, y, _ in links]).astype(np.int64)
    # A group that hangs on a few look-alike links is cut there (`cuts`); flat pictures, linked
    # in chains by level, are not.
    if cut:
        keep = cuts.kept_links(k, la, lb, np.concatenate([s for _, _, s in links]))
        la, lb = la[keep], lb[keep]
    # Nodes 0..n are the pictures, n..n+k the distinct thumbnails; each picture joins its own.
    a = np.concatenate([np.arange(n), n + fa, n + la]).astype(np.uint32)
    b = np.concatenate([n + which, n + fb, n + lb]).astype(np.uint32)
    # Components hold a picture node, so the smallest node is a picture.
    return _core.hamming_components(n + k, a, b)[:n]
