"""Fixtures for the benchmarks: one photo corpus per session, made by ``make_photo_corpus``.

Environment:
    RA_BENCH_N       number of images (default 2000)
    RA_BENCH_ROUNDS  rounds per benchmark (default 3; read in bench_scan.py)
    RA_BENCH_DIR     if set, keep the corpus there and reuse it on later runs
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

BENCH_N = int(os.environ.get("RA_BENCH_N", "2000"))
SEED = 0


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    """Collect ``bench_*.py`` too, so ``pytest benches`` works (explicit paths always do)."""
    if file_path.suffix == ".py" and file_path.name.startswith("bench_") and not parent.session.isinitpath(file_path):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


def _examples_module():
    try:
        from recipe_audit import examples
    except ImportError:
        # The baselines only need examples.py; load it by path when the native
        # extension of the package has not been built yet.
        path = Path(__file__).parents[1] / "python" / "recipe_audit" / "examples.py"
        spec = importlib.util.spec_from_file_location("_ra_examples", path)
        examples = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(examples)
    return examples


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """``(directory, files)`` of a flat corpus of ``RA_BENCH_N`` photo crops."""
    make = _examples_module().make_photo_corpus
    keep = os.environ.get("RA_BENCH_DIR")
    if not keep:
        dest = tmp_path_factory.mktemp("corpus")
        return dest, make(dest, BENCH_N, seed=SEED)
    dest = Path(keep) / f"photos_n{BENCH_N}_seed{SEED}"
    done = dest.with_name(dest.name + ".done")  # outside the corpus, so scans do not see it
    if done.exists():
        return dest, sorted(p for p in dest.iterdir() if p.is_file())
    paths = make(dest, BENCH_N, seed=SEED)
    done.touch()
    return dest, paths
