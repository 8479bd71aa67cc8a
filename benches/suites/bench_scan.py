"""Side-by-side throughput of ``recipe_audit.scan`` and Python baselines on one photo corpus.

Run (a few minutes for the default 2000 files)::

    pytest benches/suites/bench_scan.py --benchmark-json=bench.json
    python -m benches.studies.report bench.json          # markdown table for BENCHMARKS.md

Baselines only (no native build needed): ``pytest benches/suites/bench_scan.py -k "not ra_scan"``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

Image = pytest.importorskip("PIL.Image")
imagehash = pytest.importorskip("imagehash")

BENCH_ROUNDS = int(os.environ.get("RA_BENCH_ROUNDS", "3"))

pytestmark = pytest.mark.benchmark(group="files")


def _run(benchmark, fn, *args, what: str):
    benchmark.extra_info["what"] = what
    return benchmark.pedantic(fn, args=args, rounds=BENCH_ROUNDS, iterations=1, warmup_rounds=0)


def _imagehash_all(paths: list[Path]) -> int:
    """Decode once, convert to L once, then ahash + dhash + phash (the best case for imagehash)."""
    n = 0
    for p in paths:
        with Image.open(p) as im:
            gray = im.convert("L")
        imagehash.average_hash(gray)
        imagehash.dhash(gray)
        imagehash.phash(gray)
        n += 1
    return n


def _pil_draft_all(paths: list[Path]) -> int:
    """Reduced-scale decode: libjpeg's DCT scaling to 1/8 straight to L; PNGs load in full."""
    n = 0
    for p in paths:
        with Image.open(p) as im:
            if im.format == "JPEG":
                im.draft("L", (im.width // 8, im.height // 8))
            im.load()
        n += 1
    return n


def _pil_full_all(paths: list[Path]) -> int:
    n = 0
    for p in paths:
        with Image.open(p) as im:
            im.convert("L")
        n += 1
    return n


def test_imagehash(benchmark, corpus) -> None:
    _, paths = corpus
    benchmark.extra_info["files"] = len(paths)
    assert _run(benchmark, _imagehash_all, paths, what="imagehash ahash+dhash+phash, PIL decode, 1 process") == len(
        paths
    )


def test_pil_draft(benchmark, corpus) -> None:
    _, paths = corpus
    benchmark.extra_info["files"] = len(paths)
    assert _run(benchmark, _pil_draft_all, paths, what="PIL reduced-scale JPEG decode (draft L 1/8), 1 process") == len(
        paths
    )


def test_pil_full(benchmark, corpus) -> None:
    _, paths = corpus
    benchmark.extra_info["files"] = len(paths)
    assert _run(benchmark, _pil_full_all, paths, what="PIL full decode + convert('L'), 1 process") == len(paths)


def _scan():
    ra = pytest.importorskip("recipe_audit")
    if not hasattr(ra, "scan"):
        pytest.skip("recipe_audit.scan is not available (native module not built?)")
    return ra.scan


def test_ra_scan_threads1(benchmark, corpus) -> None:
    scan = _scan()
    root, paths = corpus
    benchmark.extra_info["files"] = len(paths)
    benchmark.extra_info["threads"] = 1
    df = _run(benchmark, lambda: scan(str(root), threads=1, progress=False), what="recipe_audit.scan, threads=1")
    assert df.height == len(paths)


def test_ra_scan_all_cores(benchmark, corpus) -> None:
    scan = _scan()
    root, paths = corpus
    benchmark.extra_info["files"] = len(paths)
    benchmark.extra_info["threads"] = os.cpu_count()
    df = _run(benchmark, lambda: scan(str(root), progress=False), what="recipe_audit.scan, all cores")
    assert df.height == len(paths)


def test_ra_scan_threads1_fast(benchmark, corpus) -> None:
    """Every JPEG at 1/8 scale, like PIL's draft: the speed end of the accuracy trade-off."""
    scan = _scan()
    root, paths = corpus
    benchmark.extra_info["files"] = len(paths)
    benchmark.extra_info["threads"] = 1
    df = _run(
        benchmark,
        lambda: scan(str(root), threads=1, progress=False, min_decode_side=8),
        what="recipe_audit.scan, threads=1, min_decode_side=8 (1/8 scale like draft)",
    )
    assert df.height == len(paths)


def test_ra_scan_all_cores_fast(benchmark, corpus) -> None:
    scan = _scan()
    root, paths = corpus
    benchmark.extra_info["files"] = len(paths)
    benchmark.extra_info["threads"] = os.cpu_count()
    df = _run(
        benchmark,
        lambda: scan(str(root), progress=False, min_decode_side=8),
        what="recipe_audit.scan, all cores, min_decode_side=8",
    )
    assert df.height == len(paths)
