from collections.abc import Callable, Sequence
from os import PathLike
from typing import Any, final

import numpy as np
import numpy.typing as npt
from typing_extensions import Self

__version__: str
MEASURES_REVISION: int
SCAN_COLUMNS: list[tuple[str, str]]
STATUSES: list[str]
DEFAULT_MAX_PIXELS: int
DEFAULT_MAX_BYTES: int
DEFAULT_MIN_DECODE_SIDE: int

def scan_paths(
    sources: Sequence[str | PathLike[str]],
    *,
    recursive: bool = True,
    threads: int | None = None,
    progress: bool = False,
    max_pixels: int = ...,
    max_bytes: int = ...,
    min_decode_side: int = ...,
    on_batch: Callable[[dict[str, Any]], object] | None = None,
) -> dict[str, Any] | None: ...
def scan_bytes(
    names: Sequence[str],
    blobs: Sequence[bytes],
    *,
    threads: int | None = None,
    max_pixels: int = ...,
    min_decode_side: int = ...,
) -> dict[str, Any]: ...
def list_files(sources: Sequence[str | PathLike[str]], *, recursive: bool = True) -> dict[str, list[Any]]:
    """The walk alone: path (as shown), key (the bytes of the path that opens the file), label, split, size,
    mtime_ns, ctime_ns, status and error of refused entries."""
    ...

def scan_listed(
    paths: Sequence[str | PathLike[str]],
    names: Sequence[str],
    *,
    threads: int | None = None,
    max_pixels: int = ...,
    max_bytes: int = ...,
    min_decode_side: int = ...,
) -> dict[str, Any]:
    """One row per listed path, in the given order, shown as its name in `names`."""
    ...

def hamming_pairs(
    hashes: npt.NDArray[np.uint64], radius: int
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32], npt.NDArray[np.uint8]]: ...
def hamming_pairs_across(
    queries: npt.NDArray[np.uint64], index: npt.NDArray[np.uint64], radius: int
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32], npt.NDArray[np.uint8]]: ...
def window_hashes(
    thumbs: npt.NDArray[np.float32],
    bands: npt.NDArray[np.uint16],
    variants: npt.NDArray[np.uint16],
    per_band: int,
    tap_cells: npt.NDArray[np.uint16],
    tap_weights: npt.NDArray[np.float32],
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64], npt.NDArray[np.uint64]]: ...
def window_scores(
    mine: npt.NDArray[np.float32],
    theirs: npt.NDArray[np.float32],
    mine_signs: npt.NDArray[np.uint8] | None,
    theirs_signs: npt.NDArray[np.uint8] | None,
    tap_cells: npt.NDArray[np.uint16],
    tap_weights: npt.NDArray[np.float32],
    sign_cells: npt.NDArray[np.uint16],
    query: npt.NDArray[np.uint32],
    mirrored: npt.NDArray[np.bool_],
    other: npt.NDArray[np.uint32],
    variant: npt.NDArray[np.uint16],
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.float32]]: ...
def hamming_groups(hashes: npt.NDArray[np.uint64], radius: int) -> npt.NDArray[np.uint32]: ...
def hamming_forest_across(
    queries: npt.NDArray[np.uint64], index: npt.NDArray[np.uint64], radius: int
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]: ...
def hamming_forest(
    hashes: npt.NDArray[np.uint64], radius: int
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    """A spanning forest of the within-`radius` graph: (hash, the smallest hash of its group) edges."""

def image_folder_labels(keys: Sequence[str]) -> tuple[list[str | None], list[str | None]]:
    """Label and split of '/'-separated keys below a root, by the walk's ImageFolder rule."""

def ranked_rows(
    quality: npt.NDArray[np.float32] | npt.NDArray[np.float64],
    label: npt.NDArray[np.uint32],
    suggested: npt.NDArray[np.uint32],
    flagged: npt.NDArray[np.bool_],
) -> tuple[
    npt.NDArray[np.uint32],
    npt.NDArray[np.uint32],
    npt.NDArray[np.uint32],
    npt.NDArray[np.float32] | npt.NDArray[np.float64],
    npt.NDArray[np.bool_],
]:
    """The label-error columns in ascending quality, ties in input order: index, label,
    suggested label, quality, flag."""

def hamming_forest_in_buckets(
    hashes: npt.NDArray[np.uint64], ids: npt.NDArray[np.uint32], offsets: npt.NDArray[np.uint64], radius: int
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    """Each bucket ``hashes[offsets[b]:offsets[b + 1]]`` searched exactly: a spanning forest in global ids."""

def hamming_components(n: int, a: npt.NDArray[np.uint32], b: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]: ...
def hamming_groups_with_mirrors(
    hashes: npt.NDArray[np.uint64], mirrors: npt.NDArray[np.uint64], radius: int
) -> npt.NDArray[np.uint32]: ...

@final
class HammingIndex:
    """A multi-index over a fixed set of hashes, built once and queried many times."""

    def __new__(cls, hashes: npt.NDArray[np.uint64], radius_max: int) -> Self: ...
    def __len__(self) -> int: ...
    @property
    def radius_max(self) -> int: ...
    def nearest(
        self,
        queries: npt.NDArray[np.uint64],
        radius: int,
        k: int,
        mirrors: npt.NDArray[np.uint64] | None = None,
    ) -> tuple[
        npt.NDArray[np.uint32],
        npt.NDArray[np.uint32],
        npt.NDArray[np.uint8],
        npt.NDArray[np.bool_],
        npt.NDArray[np.uint32],
    ]: ...

def confident_rows(
    probs: npt.NDArray[np.float32] | npt.NDArray[np.float64], codes: npt.NDArray[np.uint32]
) -> tuple[
    int,
    float,
    bool,
    bool,
    npt.NDArray[np.float64],
    npt.NDArray[np.float32] | npt.NDArray[np.float64],
    npt.NDArray[np.uint64],
]:
    """One pass: (row whose sum is furthest from 1, that sum, any NaN/inf, any negative, the
    per-class thresholds, each row's probability of its label, the rows per label). `probs`
    C-contiguous (n, k)."""

def confident_counts(
    probs: npt.NDArray[np.float32] | npt.NDArray[np.float64],
    codes: npt.NDArray[np.uint32],
    thresholds: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint32]]:
    """Confident learning's counting pass: the confident joint (k*k, flat) and each row's most
    probable class, for the thresholds of `confident_rows`."""

def confident_prune(
    probs: npt.NDArray[np.float32] | npt.NDArray[np.float64],
    codes: npt.NDArray[np.uint32],
    wanted: npt.NDArray[np.uint64],
) -> npt.NDArray[np.bool_]:
    """Prune by noise rate: per (i, j) the wanted[i*k+j] rows labelled i with the largest p[j]-p[i]."""


__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MIN_DECODE_SIDE",
    "HammingIndex",
    "MEASURES_REVISION",
    "SCAN_COLUMNS",
    "STATUSES",
    "__version__",
    "confident_counts",
    "confident_prune",
    "confident_rows",
    "hamming_components",
    "hamming_forest",
    "hamming_forest_across",
    "hamming_forest_in_buckets",
    "hamming_groups",
    "hamming_groups_with_mirrors",
    "hamming_pairs",
    "hamming_pairs_across",
    "image_folder_labels",
    "list_files",
    "scan_listed",
    "scan_bytes",
    "scan_paths",
    "ranked_rows",
    "window_hashes",
    "window_scores",
]
