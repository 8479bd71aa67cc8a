from collections.abc import Sequence
from os import PathLike
from typing import Any

__version__: str

def scan_paths(
    sources: Sequence[str | PathLike[str]],
    *,
    recursive: bool = True,
    threads: int | None = None,
    progress: bool = False,
    max_pixels: int = 100_000_000,
    max_bytes: int = 1 << 30,
    min_decode_side: int = 64,
) -> dict[str, Any]: ...
def scan_bytes(
    names: Sequence[str],
    blobs: Sequence[bytes],
    *,
    threads: int | None = None,
    max_pixels: int = 100_000_000,
    min_decode_side: int = 64,
) -> dict[str, Any]: ...
