"""Per-format throughput, side by side in one run: imagehash (best case) vs recipe_audit.scan.

    python -m benches.studies.per_format [CORPUS_DIR]   # default: a fresh 2000-file make_photo_corpus

Shows where the time goes: JPEGs (reduced-scale decode) against PNGs (full inflate).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import imagehash
from PIL import Image

import recipe_audit
from recipe_audit import examples


def _imagehash(paths: list[Path]) -> None:
    for p in paths:
        with Image.open(p) as im:
            gray = im.convert("L")
        imagehash.average_hash(gray), imagehash.dhash(gray), imagehash.phash(gray)


def _best_of(fn, rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(folder: Path) -> None:
    paths = sorted(p for p in folder.iterdir() if p.is_file())
    print(
        "| format | files | imagehash files/s | scan threads=1 files/s | scan all cores files/s | all cores / imagehash |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for suffix in (".jpg", ".png"):
        subset = [p for p in paths if p.suffix == suffix]
        reference = len(subset) / _best_of(lambda subset=subset: _imagehash(subset), rounds=1)
        one = len(subset) / _best_of(lambda subset=subset: recipe_audit.scan(subset, threads=1, progress=False))
        every = len(subset) / _best_of(lambda subset=subset: recipe_audit.scan(subset, progress=False))
        print(
            f"| {suffix[1:]} | {len(subset)} | {reference:,.0f} | {one:,.0f} | {every:,.0f} | {every / reference:.1f}x |"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            examples.make_photo_corpus(tmp, 2000, seed=0)
            main(Path(tmp))
