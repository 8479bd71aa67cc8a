import importlib
import sys
import time
import types
from pathlib import Path

from benches.studies.dup_sidebyside import common


def _imagededup_phash():  # as in /work/main/benches/compare_dedup.py: skip the CNN (torch) imports
    import imagededup

    for package in ("methods", "utils"):
        bare = types.ModuleType(f"imagededup.{package}")
        bare.__path__ = [str(Path(imagededup.__file__).parent / package)]
        sys.modules[f"imagededup.{package}"] = bare
    return importlib.import_module("imagededup.methods.hashing").PHash


PHash = _imagededup_phash()
t0 = time.perf_counter()
dups = PHash(verbose=False).find_duplicates(image_dir=str(common.IMGS), max_distance_threshold=10)
pairs = [(a, b) for a, bs in dups.items() for b in bs]
groups = common.components(pairs)
common.save(
    "imagededup PHash <=10", groups, time.perf_counter() - t0, note=f"{len(pairs) // 2} pairs -> connected components"
)
