"""Can the scan's 16x16 ``thumb`` (256 bytes a row) be stored in a few dozen bytes without the
near-duplicate rule noticing? (issue 16, "Memory: the extra columns stay a few dozen bytes a row")

    python -m benches.studies.thumb_coding --tuning /tmp/dh1 /tmp/dh3 /tmp/dh4 /tmp/dh5 /tmp/dh13 /tmp/dh17
    python -m benches.studies.thumb_coding --heldout /tmp/dh89 --unrelated /tmp/dh1 /tmp/dh3 /tmp/dh4

(corpus dirs written by `dup_heldout.py`; ``--quick`` sweeps the variants on the first two tuning
dirs only; ``--codec NAME`` picks the codec for ``--heldout`` / ``--unrelated`` by its printed
name, default `CHOSEN`). Each tuning dir takes about two minutes for all `VARIANTS`.

The codec is a transform code of the thumbnail, decodable with numpy alone (`Codec`):

- the orthonormal 2-D DCT-II of the 16x16 thumb; a zone of low frequencies is kept (``10x10``:
  u, v < 10; ``K45``: the first 45 in JPEG zigzag order, DC included), the rest are zero;
- the mean gray level in `Codec.mean_bits` bits (10: quarter levels);
- a gain, the thumb's standard deviation, in `Codec.gain_bits` bits on a log scale (1/5 octave)
  whose cell 0 is exactly the rule's flat pictures (std under `thumbmatch.FLAT_STD`): a flat
  picture decodes flat (no AC), a textured one never does (see `decode`);
- each kept AC coefficient, times (1 + u + v) ** `Codec.slope` / gain, clipped to +-`Codec.reach`
  and cut into 2**bits levels. With slope 1 the steps are uniform where the rule compares
  pictures (its correlation weighs each coefficient by 1 + u + v; natural pictures' coefficients
  fall about as 1 / (1 + u + v)); slope < 0 is the JPEG-like table (larger steps at higher
  frequencies). Levels are midrise, +-(k + 1/2) step: the rule's window hashes compare the low
  8x8 coefficients with their median, which sits among the small ones, and a zero level
  (midtread, JPEG) leaves those bits to the uint8 rounding noise of the decoded thumb;
- decoding inverts the DCT and rounds to uint8 keeping the coded mean (the pixels nearest to
  rounding up absorb the remainder), so flat pictures keep their level to a quarter gray level.

Each run of the study replaces the scan's ``thumb`` by encode -> pack -> unpack -> decode and runs
`recipe_audit.find_duplicates` on it, judged by `dup_heldout.judge`. ``--tuning`` sweeps the
variants on the tuning photographs of each dir (never their held-out half) and pools the copies
each one loses and gains against the raw thumb (`within_noise`); ``--heldout`` reports the raw
thumb against one codec on both halves of a fresh corpus; ``--unrelated`` counts links between
files of different sources (each dir's photographs, then all together, as in
`dup_unrelated.py`). Scans are cached in /tmp/thumbcode/scan_<dir name>.parquet.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import polars as pl

import recipe_audit
from recipe_audit import thumbcode
from recipe_audit.dedup import thumbmatch
from recipe_audit.dedup.rule import window_rule_rows

from benches.studies.dup_corpus import GOAL_TRANSFORMS, true_pair
from benches.studies.dup_heldout import judge

SIDE = thumbmatch.THUMB_SIDE
CACHE = Path("/tmp/thumbcode")


# ---------------------------------------------------------------- the codec


dct_matrix = thumbcode._dct_matrix
"""(16, 16) orthonormal DCT-II: coefficients = D @ thumb @ D.T, thumb = D.T @ coefficients @ D (the
library's own, `recipe_audit.thumbcode`)."""


@functools.cache
def zigzag() -> np.ndarray:
    """(256,) flat indices u * 16 + v in JPEG zigzag order (anti-diagonals u + v = 0, 1, ...,
    alternating direction as JPEG does)."""
    order = []
    for s in range(2 * SIDE - 1):
        cells = [(u, s - u) for u in range(SIDE) if 0 <= s - u < SIDE]
        order += cells if s % 2 else cells[::-1]
    return np.array([u * SIDE + v for u, v in order])


def frequency(index: np.ndarray) -> np.ndarray:
    """1 + u + v of flat coefficient indices: the rule's weight of each coefficient."""
    return 1.0 + index // SIDE + index % SIDE


@dataclasses.dataclass(frozen=True)
class Codec:
    """One variant of the transform code (see the module's docstring)."""

    zone: str  # "10x10": the lowest 10 x 10 frequencies; "K91": the first 91 in zigzag order (DC included)
    bits: int  # signed bits per AC coefficient
    reach: float = 24.0  # clip level of coefficient x (1 + u + v) ** slope / gain
    low: tuple[int, int] | None = None  # (side, bits): the lowest side x side frequencies get these bits
    slope: float = 1.0
    mean_bits: int = 10
    gain_bits: int = 5  # 1: a flat flag only, steps in absolute gray levels (gain fixed at `FIXED_GAIN`)
    midrise: bool = True  # levels at +-(k + 1/2) step, no zero level: a small coefficient keeps its sign

    @property
    def name(self) -> str:
        parts = [f"{self.zone} {self.bits}b"]
        if self.low:
            parts.append(f"({self.low[0]}x{self.low[0]} {self.low[1]}b)")
        if self.reach != 24.0:
            parts.append(f"reach {self.reach:g}")
        if self.slope != 1.0:
            parts.append(f"slope {self.slope:g}")
        if self.mean_bits != 10 or self.gain_bits != 5:
            parts.append(f"mean {self.mean_bits}b gain {'flag' if self.gain_bits == 1 else f'{self.gain_bits}b'}")
        if not self.midrise:
            parts.append("midtread")
        return " ".join(parts)

    @functools.cached_property
    def ac_index(self) -> np.ndarray:
        """Flat indices u * 16 + v of the kept AC coefficients, in zigzag order."""
        order = zigzag()
        if self.zone.startswith("K"):
            return order[1 : int(self.zone[1:])]
        side = int(self.zone.split("x")[0])
        return order[(order // SIDE < side) & (order % SIDE < side)][1:]

    @functools.cached_property
    def widths(self) -> np.ndarray:
        """Bits of each kept AC coefficient."""
        out = np.full(len(self.ac_index), self.bits)
        if self.low:
            side, bits = self.low
            out[(self.ac_index // SIDE < side) & (self.ac_index % SIDE < side)] = bits
        return out

    @property
    def total_bits(self) -> int:
        return self.mean_bits + self.gain_bits + int(self.widths.sum())

    @property
    def bytes(self) -> int:
        return -(-self.total_bits // 8)

    @functools.cached_property
    def levels(self) -> tuple[np.ndarray, np.ndarray]:
        """(lowest, highest) level of each coefficient: two's complement, all of it when midrise
        (level k stands for (k + 1/2) step), less its lowest value when not (symmetric round)."""
        half = 2 ** (self.widths - 1)
        return (-half if self.midrise else 1 - half), half - 1

    @functools.cached_property
    def unit_steps(self) -> np.ndarray:
        """Each kept coefficient's step for a gain of 1, in orthonormal DCT units: +-reach in
        2**bits levels, where the coefficient is weighed by (1 + u + v) ** slope."""
        levels = 2.0 ** (self.widths - 1) - (0 if self.midrise else 1)
        return self.reach / levels / frequency(self.ac_index) ** self.slope


FIXED_GAIN = 30.0
"""The gain a `Codec` with ``gain_bits=1`` assumes for every textured picture (about the median
thumbnail std of the tuning photographs): its steps are then absolute, as JPEG's are."""
GAIN_CELLS_PER_OCTAVE = 5
"""Resolution of the log gain: cell 1 starts at FLAT_STD, each cell is 1/5 octave (15%) wide."""


@dataclasses.dataclass
class Fields:
    """A batch of coded thumbnails before packing: integers per field and row."""

    mean: np.ndarray  # (n,)
    gain: np.ndarray  # (n,)
    ac: np.ndarray  # (n, kept AC coefficients), signed levels


def gain_cell(std: np.ndarray, codec: Codec) -> np.ndarray:
    """0 for the rule's flat pictures (std under FLAT_STD), else 1 + the log2 cell above it."""
    if codec.gain_bits == 1:
        return (std >= thumbmatch.FLAT_STD).astype(np.int64)
    top = 2**codec.gain_bits - 1
    above = np.log2(np.maximum(std, thumbmatch.FLAT_STD) / thumbmatch.FLAT_STD) * GAIN_CELLS_PER_OCTAVE
    return np.where(std < thumbmatch.FLAT_STD, 0, 1 + np.minimum(np.floor(above), top - 1)).astype(np.int64)


def gain_value(cell: np.ndarray, codec: Codec) -> np.ndarray:
    """The gain a cell decodes to (its centre on the log scale); 1 for flat cells (unused)."""
    if codec.gain_bits == 1:
        return np.where(cell > 0, FIXED_GAIN, 1.0)
    centre = thumbmatch.FLAT_STD * 2.0 ** ((cell - 0.5) / GAIN_CELLS_PER_OCTAVE)
    return np.where(cell > 0, centre, 1.0)


def dct(pixels: np.ndarray) -> np.ndarray:
    """(n, 256) pixels to (n, 256) orthonormal DCT-II coefficients, flat index u * 16 + v."""
    d = dct_matrix()
    return np.einsum("ui,nij,vj->nuv", d, pixels.reshape(-1, SIDE, SIDE), d).reshape(len(pixels), -1)


def inverse_dct(coefficients: np.ndarray) -> np.ndarray:
    d = dct_matrix()
    return np.einsum("ui,nuv,vj->nij", d, coefficients.reshape(-1, SIDE, SIDE), d).reshape(len(coefficients), -1)


def encode(thumbs: np.ndarray, codec: Codec) -> Fields:
    """(n, 256) uint8 thumbnails to their fields."""
    pixels = thumbs.astype(np.float32)  # the rule's own dtype: its std decides flatness
    scale = 2 ** (codec.mean_bits - 8)
    mean = np.clip(np.round(pixels.mean(axis=1, dtype=np.float64) * scale), 0, 2**codec.mean_bits - 1)
    cell = gain_cell(pixels.std(axis=1), codec)
    steps = gain_value(cell, codec)[:, None] * codec.unit_steps
    scaled = dct(pixels.astype(np.float64))[:, codec.ac_index] / steps
    lowest, highest = codec.levels
    ac = np.clip(np.floor(scaled) if codec.midrise else np.round(scaled), lowest, highest).astype(np.int64)
    ac[cell == 0] = 0  # flat pictures keep only their level: the rule reads nothing else of them
    return Fields(mean.astype(np.int64), cell, ac)


def decode(fields: Fields, codec: Codec) -> np.ndarray:
    """Fields to (n, 256) uint8 thumbnails. A textured picture whose decoded std fell under
    FLAT_STD (its detail was in the dropped frequencies) gets its ACs scaled up to just above it,
    so the rule never takes it for a blank frame."""
    n = len(fields.mean)
    mean = fields.mean / 2 ** (codec.mean_bits - 8)
    coefficients = np.zeros((n, SIDE * SIDE))
    coefficients[:, 0] = mean * SIDE  # orthonormal DC = 16 x mean
    textured = fields.gain > 0
    levels = (fields.ac + 0.5 * codec.midrise) * textured[:, None]  # flat: no AC at all
    coefficients[:, codec.ac_index] = levels * gain_value(fields.gain, codec)[:, None] * codec.unit_steps
    pixels = inverse_dct(coefficients)
    out = round_keeping_mean(pixels, mean)
    # A midtread code can zero every AC of a faint texture: such a row has nothing to scale.
    scalable = textured & (np.ptp(pixels, axis=1) > 1e-6)
    for _ in range(8):  # each pass scales the still-too-flat ones by what they lack (clipping eats some)
        std = out.astype(np.float32).std(axis=1)
        low = np.flatnonzero(scalable & (std < thumbmatch.FLAT_STD))
        if len(low) == 0:
            break
        centre = pixels[low].mean(axis=1, keepdims=True)
        factor = 1.1 * thumbmatch.FLAT_STD / np.maximum(std[low], 0.1)
        pixels[low] = centre + (pixels[low] - centre) * factor[:, None]
        out[low] = round_keeping_mean(pixels[low], mean[low])
    return out


def round_keeping_mean(pixels: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Round (n, 256) pixels to uint8 so each row sums to 256 x its coded mean: the pixels with
    the largest fractions round up, as many as the sum needs (nearest rounding, up to the sum)."""
    clipped = np.clip(pixels, 0, 255)
    floor = np.floor(clipped)
    target = np.round(mean * SIDE * SIDE)
    ups = np.clip(target - floor.sum(axis=1), 0, SIDE * SIDE).astype(np.int64)
    rank = np.argsort(np.argsort(-(clipped - floor), axis=1, kind="stable"), axis=1, kind="stable")
    return np.clip(floor + (rank < ups[:, None]), 0, 255).astype(np.uint8)


def pack(fields: Fields, codec: Codec) -> np.ndarray:
    """(n, codec.bytes) uint8: mean, gain, then the AC levels in zigzag order (two's complement,
    each in its width), most significant bit first, zero-padded to whole bytes."""
    columns = [_bits(fields.mean, codec.mean_bits), _bits(fields.gain, codec.gain_bits)]
    columns += [_bits(fields.ac[:, i] & (2**w - 1), w) for i, w in enumerate(codec.widths)]
    return np.packbits(np.concatenate(columns, axis=1), axis=1)


def unpack(packed: np.ndarray, codec: Codec) -> Fields:
    bits = np.unpackbits(packed, axis=1)[:, : codec.total_bits].astype(np.int64)
    ends = np.cumsum([codec.mean_bits, codec.gain_bits, *codec.widths])
    values = [_number(part) for part in np.split(bits, ends[:-1], axis=1)]
    ac = np.stack(values[2:], axis=1)
    ac = np.where(ac >= 2 ** (codec.widths - 1), ac - 2**codec.widths, ac)  # two's complement
    return Fields(values[0], values[1], ac)


def _bits(values: np.ndarray, width: int) -> np.ndarray:
    """(n,) non-negative integers to (n, width) bits, most significant first."""
    return ((values[:, None] >> np.arange(width - 1, -1, -1)) & 1).astype(np.uint8)


def _number(bits: np.ndarray) -> np.ndarray:
    """(n, width) bits, most significant first, to (n,) integers."""
    return (bits << np.arange(bits.shape[1] - 1, -1, -1)).sum(axis=1)


def round_trip(thumbs: np.ndarray, codec: Codec) -> np.ndarray:
    """What a stored row would give back: encode, pack to bytes, unpack, decode."""
    packed = pack(encode(thumbs, codec), codec)
    assert packed.shape[1] == codec.bytes
    return decode(unpack(packed, codec), codec)


def coded_frame(frame: pl.DataFrame, codec: Codec | None) -> pl.DataFrame:
    """The scan frame with its thumb column replaced by the codec's round trip (None: raw)."""
    if codec is None:
        return frame
    usable = frame["thumb"].is_not_null()
    thumbs = np.frombuffer(b"".join(frame["thumb"].filter(usable).to_list()), np.uint8).reshape(-1, SIDE * SIDE)
    decoded = iter(row.tobytes() for row in round_trip(thumbs, codec))
    column = [next(decoded) if ok else None for ok in usable.to_list()]
    return frame.with_columns(thumb=pl.Series("thumb", column, dtype=pl.Binary))


# ---------------------------------------------------------------- judging


def photo_table(directory: Path) -> pl.DataFrame:
    return pl.read_parquet(directory / "table.parquet").filter(pl.col("source_kind") == "photo")


def cached_scan(directory: Path) -> pl.DataFrame:
    """The scan of every photograph of a corpus dir, made once (a row's scan does not depend on
    the other rows, so halves are filtered from it)."""
    path = CACHE / f"scan_{directory.name}.parquet"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        recipe_audit.scan(photo_table(directory)["path"].to_list(), progress=False).write_parquet(path)
    return pl.read_parquet(path)


def copies_found(table: pl.DataFrame, groups: pl.DataFrame, half: str) -> pl.DataFrame:
    """Per edited copy of `half`: ``path``, ``transform``, ``found`` (in its original's group), as
    `dup_heldout.judge` counts it."""
    group = groups.select("path", "group")
    originals = table.filter(pl.col("transform") == "original").select("original", original_path="path")
    return (
        table.filter((pl.col("half") == half) & (pl.col("transform") != "original"))
        .select("path", "original", "transform")
        .join(originals, on="original", how="left")
        .join(group, on="path", how="left")
        .join(group.rename({"path": "original_path", "group": "original_group"}), on="original_path", how="left")
        .select(
            "path", "transform", found=pl.col("group").is_not_null() & (pl.col("group") == pl.col("original_group"))
        )
    )


def cells(found: pl.DataFrame) -> dict[str, float]:
    """Recall per goal transform, over the two-edit copies, and over the 10-20% crops."""
    out = {t: found.filter(pl.col("transform") == t)["found"].mean() for t in GOAL_TRANSFORMS}
    out["two edits"] = found.filter(pl.col("transform").str.contains(r"\+"))["found"].mean()
    out["crop 10-20%"] = found.filter(pl.col("transform") == "crop_10_20")["found"].mean()
    return out


def true_false_pairs(table: pl.DataFrame, groups: pl.DataFrame, half: str) -> tuple[int, int]:
    """(true, false) pairs inside the groups, both files of `half`, as `dup_heldout.judge` counts."""
    is_true = true_pair(table)
    in_half = groups.join(table.filter(pl.col("half") == half).select("path"), on="path")
    true = false = 0
    for members in in_half.partition_by("group"):
        for a, b in itertools.combinations(members["path"].to_list(), 2):
            same = is_true(a, b)
            true, false = true + same, false + (not same)
    return true, false


@dataclasses.dataclass
class Outcome:
    """One search of one half: `dup_heldout.judge`'s row, the per-copy flags, the pair counts."""

    judged: dict[str, str]
    found: pl.DataFrame
    pairs: int
    false_pairs: int


def judged_search(
    table: pl.DataFrame, files: pl.DataFrame, codec: Codec | None, halves: Iterable[str]
) -> dict[str, Outcome]:
    """`find_duplicates` on the scan with the codec's thumbnails, judged on each of `halves`."""
    groups = recipe_audit.find_duplicates(coded_frame(files, codec))
    judged = judge(table, groups)
    out = {}
    for half in halves:
        true, false = true_false_pairs(table, groups, half)
        out[half] = Outcome(judged[half], copies_found(table, groups, half), true + false, false)
    return out


def discordant(raw: Outcome, coded: Outcome, transform: str | None = None) -> tuple[int, int]:
    """(lost, gained): copies the raw thumb finds and the codec misses, and the other way round
    (of one cell: a transform, "two edits" or None for every copy)."""
    both = raw.found.join(coded.found, on="path", suffix="_coded")
    if transform == "two edits":
        both = both.filter(pl.col("transform").str.contains(r"\+"))
    elif transform is not None:
        both = both.filter(pl.col("transform") == transform)
    lost = int((both["found"] & ~both["found_coded"]).sum())
    return lost, int((~both["found"] & both["found_coded"]).sum())


CELLS = {**{t: t for t in GOAL_TRANSFORMS}, "two edits": "two edits", "crop 10-20%": "crop_10_20"}
"""judge's columns and the transform each counts."""


def within_noise(lost: int, gained: int) -> bool:
    """The paired (sign-test) noise: the copies lost exceed those gained by at most two standard
    deviations of the difference under no change, sqrt(lost + gained), and at least 2 copies."""
    return lost - gained <= max(2.0, 2.0 * (lost + gained) ** 0.5)


# ---------------------------------------------------------------- variants

REFERENCE = Codec("16x16", 8, reach=48.0)
"""Near lossless (257 bytes: no saving): how much the groups move when the thumb barely does."""
VARIANTS = [
    REFERENCE,
    Codec("12x12", 8),  # what dropping the frequencies above 11 alone costs (145 bytes)
    Codec("10x10", 8),  # ... above 9 (101 bytes)
    # The brief's first idea: zigzag triangle, JPEG-like steps (larger at higher frequencies).
    Codec("K28", 6, slope=-0.5, mean_bits=8, midrise=False),
    Codec("K45", 5, slope=-0.5, mean_bits=8, midrise=False),
    Codec("K64", 5, slope=-0.5, mean_bits=8, midrise=False),
    Codec("K64", 5, midrise=False),  # steps uniform where the rule compares (slope 1)
    Codec("K64", 5),  # ... and midrise levels
    Codec("8x8", 5),
    Codec("9x9", 5),
    Codec("K91", 5),
    Codec("10x10", 4),
    Codec("10x10", 4, low=(6, 5)),
    Codec("10x10", 4, low=(8, 5)),
    Codec("10x10", 5),
    Codec("11x11", 4),
    Codec("12x12", 3),
    # Over the 64-byte budget, run after the rest: what it takes to hold.
    Codec("12x12", 4),
    Codec("12x12", 5),
]
CHOSEN = Codec("10x10", 5)
"""The codec reported held out, chosen on the tuning halves before seed 89 was made: the best of
those within 64 bytes (none held there; 12x12 5b, 92 bytes, did)."""


# ---------------------------------------------------------------- reports


def markdown(header: list[str], rows: Iterable[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def judged_row(label: str, outcome: Outcome) -> list[str]:
    return [label, *(outcome.judged[c] for c in CELLS), str(outcome.pairs), outcome.judged["precision"]]


JUDGED_HEADER = [*CELLS, "pairs", "precision"]


def tuning_sweep(dirs: list[Path], variants: list[Codec]) -> None:
    """Every variant on the tuning photographs of each dir, then pooled against the raw thumb."""
    results: dict[str, list[tuple[Outcome, Outcome]]] = {codec.name: [] for codec in variants}
    for directory in dirs:
        table = photo_table(directory)
        files = cached_scan(directory).join(table.filter(pl.col("half") == "tuning").select("path"), on="path")
        raw = judged_search(table, files, None, ["tuning"])["tuning"]
        rows = [judged_row("raw thumb (256 B)", raw)]
        for codec in variants:
            coded = judged_search(table, files, codec, ["tuning"])["tuning"]
            results[codec.name].append((raw, coded))
            rows.append(judged_row(f"{codec.name} ({codec.bytes} B)", coded))
        print(f"\n### {directory.name}: tuning half, photographs\n")
        print(markdown(["thumb", *JUDGED_HEADER], rows), flush=True)
    print("\n### Pooled over the tuning halves: copies lost / gained against the raw thumb\n")
    print(markdown(POOLED_HEADER, (pooled_row(codec, results[codec.name]) for codec in variants)))


POOLED_HEADER = [
    "thumb",
    "bytes",
    "lost / gained",
    "worst cell (lost / gained)",
    "worst cell drop in one corpus",
    "false pairs (raw)",
    "holds",
]


def pooled_row(codec: Codec, runs: list[tuple[Outcome, Outcome]]) -> list[str]:
    """One variant over all dirs: copies lost and gained, the worst cell by net loss, the largest
    drop of one cell in one corpus, the false pairs, and whether it holds (`within_noise` overall
    and in every cell, and no false pair more than the raw thumb in any corpus)."""
    lost, gained = map(sum, zip(*(discordant(raw, coded) for raw, coded in runs)))
    per_cell = {name: tuple(map(sum, zip(*(discordant(r, c, t) for r, c in runs)))) for name, t in CELLS.items()}
    worst = max(per_cell, key=lambda name: per_cell[name][0] - per_cell[name][1])
    drops = [cells(raw.found)[name] - cells(coded.found)[name] for raw, coded in runs for name in CELLS]
    false, raw_false = sum(c.false_pairs for _, c in runs), sum(r.false_pairs for r, _ in runs)
    holds = (
        within_noise(lost, gained)
        and all(within_noise(*counts) for counts in per_cell.values())
        and all(c.false_pairs <= r.false_pairs for r, c in runs)
    )
    return [
        codec.name,
        str(codec.bytes),
        f"{lost} / {gained}",
        f"{worst} {per_cell[worst][0]} / {per_cell[worst][1]}",
        f"{max(drops):.3f}",
        f"{false} ({raw_false})",
        "yes" if holds else "no",
    ]


def heldout_report(directory: Path, codec: Codec) -> None:
    """Raw thumb against `codec` on both halves of a corpus (all its photographs searched together,
    as `dup_heldout.py --kinds photo` does)."""
    table = photo_table(directory)
    files = cached_scan(directory)
    raw = judged_search(table, files, None, ["tuning", "heldout"])
    coded = judged_search(table, files, codec, ["tuning", "heldout"])
    rows = []
    for half in ("tuning", "heldout"):
        rows.append(judged_row(f"{half}: raw thumb (256 B)", raw[half]))
        rows.append(judged_row(f"{half}: {codec.name} ({codec.bytes} B)", coded[half]))
    print(f"\n### {directory.name}: raw thumb against {codec.name}\n")
    print(markdown(["half / thumb", *JUDGED_HEADER], rows))
    print()
    for half in ("tuning", "heldout"):
        lost, gained = discordant(raw[half], coded[half])
        moved = {name: discordant(raw[half], coded[half], t) for name, t in CELLS.items()}
        cells_moved = ", ".join(f"{name} {a} / {b}" for name, (a, b) in moved.items() if a or b)
        print(
            f"- {half}: copies lost / gained {lost} / {gained} (within noise: {within_noise(lost, gained)}; "
            f"by cell: {cells_moved}); false pairs {raw[half].false_pairs} raw, {coded[half].false_pairs} coded"
        )


def unrelated_links(dirs: list[Path], codec: Codec | None) -> tuple[int, int, int]:
    """(files, links between different sources, largest group) with every photograph of `dirs`
    searched together, as `dup_unrelated.py` counts them."""
    table = pl.concat([photo_table(d) for d in dirs])
    scans = pl.concat([cached_scan(d) for d in dirs])
    files = window_rule_rows(coded_frame(scans, codec)).join(table, on="path")
    thumbs, shape, signs = thumbmatch.thumbnails(files), thumbmatch.shapes(files), thumbmatch.sign_maps(files)
    pairs = thumbmatch.matched_pairs(thumbs, shape, signs=signs)
    source = files["source"].to_numpy()
    cross = int((source[pairs["a"].to_numpy()] != source[pairs["b"].to_numpy()]).sum())
    groups = thumbmatch.matched_groups(thumbs, shape, signs=signs)
    return files.height, cross, int(np.bincount(groups).max())


def unrelated_report(dirs: list[Path], codec: Codec) -> None:
    rows = []
    for label, chosen in (("raw thumb", None), (codec.name, codec)):
        for group in [[d] for d in dirs] + ([dirs] if len(dirs) > 1 else []):
            n, cross, largest = unrelated_links(group, chosen)
            rows.append([label, " + ".join(d.name for d in group), str(n), str(cross), str(largest)])
    print("\n### Links between files of different sources (all photographs)\n")
    print(markdown(["thumb", "corpora", "files", "unrelated links", "largest group"], rows))


def synthetic_near_flat(count: int = 4000, seed: int = 0) -> np.ndarray:
    """(count, 256) uint8 thumbnails around the flat threshold: a level anywhere in 0-255 plus a
    gradient, stripes or noise of std 0-4 gray levels (the blank frames, scans and skies the flat
    rule is for)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:SIDE, 0:SIDE] / (SIDE - 1) - 0.5
    patterns = [x.ravel(), (x + y).ravel(), np.sign(np.sin(np.pi * x * 6)).ravel(), None]
    out = np.empty((count, SIDE * SIDE))
    for i in range(count):
        pattern = patterns[i % len(patterns)]
        shape = rng.normal(size=SIDE * SIDE) if pattern is None else pattern
        shape = (shape - shape.mean()) / max(shape.std(), 1e-9)
        out[i] = rng.uniform(0, 255) + shape * rng.uniform(0, 4)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def flat_report(thumbs: np.ndarray, codec: Codec, label: str) -> list[str]:
    """Whether the rule's flat test (std under FLAT_STD) gives the same answer before and after
    coding, and how far a flat picture's mean moves (the rule matches flat pictures by mean)."""
    decoded = round_trip(thumbs, codec).astype(np.float32)
    before = thumbs.astype(np.float32)
    flat, flat_after = before.std(axis=1) < thumbmatch.FLAT_STD, decoded.std(axis=1) < thumbmatch.FLAT_STD
    shift = np.abs(decoded.mean(axis=1) - before.mean(axis=1))
    return [
        label,
        str(len(thumbs)),
        str(int(flat.sum())),
        str(int((flat & ~flat_after).sum())),
        str(int((~flat & flat_after).sum())),
        f"{shift[flat].max():.3f}" if flat.any() else "-",
        f"{shift.max():.3f}",
    ]


def flatness_report(dirs: list[Path], codec: Codec) -> None:
    tuning = [
        cached_scan(d).join(photo_table(d).filter(pl.col("half") == "tuning").select("path"), on="path") for d in dirs
    ]
    corpus = pl.concat(tuning)["thumb"].drop_nulls()
    corpus_thumbs = np.frombuffer(b"".join(corpus.to_list()), np.uint8).reshape(-1, SIDE * SIDE)
    rows = [
        flat_report(corpus_thumbs, codec, "corpus photographs"),
        flat_report(synthetic_near_flat(), codec, "synthetic near-flat frames"),
    ]
    header = [
        "thumbnails",
        "n",
        "flat",
        "flat -> textured",
        "textured -> flat",
        "max mean shift (flat)",
        "max mean shift",
    ]
    print(f"\n### Flat pictures through {codec.name}\n")
    print(markdown(header, rows))


@contextlib.contextmanager
def raw_thumbnails() -> Iterator[None]:
    """For the duration, scans keep the core's raw 256-byte thumbnails and the matcher reads a
    ``thumb`` value as 256 pixels: the study compares codes against the raw thumbnail, which the
    library itself now never stores (`recipe_audit.thumbcode`)."""
    coded, read = thumbcode.coded, thumbmatch.thumbnails
    thumbcode.coded = lambda values: values  # type: ignore[assignment]
    thumbmatch.thumbnails = lambda frame: (  # type: ignore[assignment]
        np.frombuffer(b"".join(frame["thumb"].to_list()), np.uint8).reshape(-1, SIDE * SIDE).astype(np.float32)
    )
    try:
        yield
    finally:
        thumbcode.coded, thumbmatch.thumbnails = coded, read


def main() -> None:
    with raw_thumbnails():
        run()


def run() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tuning", type=Path, nargs="*", default=[], help="corpus dirs to sweep the variants on")
    ap.add_argument("--quick", action="store_true", help="sweep on the first two tuning dirs only")
    ap.add_argument("--heldout", type=Path, help="a fresh corpus dir: raw thumb against the codec, both halves")
    ap.add_argument("--unrelated", type=Path, nargs="*", default=[], help="corpus dirs for the unrelated links")
    ap.add_argument("--codec", help="name of a variant (as printed) for --heldout / --unrelated; default CHOSEN")
    args = ap.parse_args()
    codec = next(c for c in VARIANTS if c.name == args.codec) if args.codec else CHOSEN
    if args.tuning:
        tuning_sweep(args.tuning[:2] if args.quick else args.tuning, VARIANTS)
        flatness_report(args.tuning, codec)
    if args.heldout:
        heldout_report(args.heldout, codec)
    if args.unrelated:
        unrelated_report(args.unrelated, codec)


if __name__ == "__main__":
    main()
