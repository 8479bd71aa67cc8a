"""recipe_audit vs imagededup vs cleanvision on one near-duplicate corpus: speed and quality.

    python -m venv --system-site-packages /tmp/iddvenv
    /tmp/iddvenv/bin/pip install --no-deps imagededup==0.3.3.post2 tqdm   # its deps pull torch + CUDA
    /tmp/iddvenv/bin/pip install cleanvision==0.3.7
    /tmp/iddvenv/bin/python -m benches.studies.compare_dedup [N_ORIGINALS] [N_VARIED] [N_EXACT]  # 1000 300 50

The corpus is benches/studies/dup_quality.py's (distinct crops of real photos, copies per transform, exact
copies; ground truth from the build). Each tool runs end to end on the folder with its defaults
(hashing + search), timed in the same process, one after another:
- recipe_audit: scan + find_duplicates (pHash, radius 10), and with flips=True;
- imagededup: PHash().find_duplicates(image_dir, recursive=True), default max_distance_threshold=10.
  imagededup's package __init__ imports its CNN module (torch + torchvision); only the hashing
  module is loaded here, with the package's real code, by registering `imagededup.methods` and
  `imagededup.utils` as bare namespaces first;
- cleanvision: Imagelab(data_path).find_issues near_duplicates (imagehash pHash, equal strings)
  and exact_duplicates (md5).
Predicted pairs are all pairs inside each reported group/set (transitive for recipe_audit and
cleanvision, as reported), or the listed pairs (imagededup). Precision and recall as in
dup_quality.py (pairs between originals that overlap with IoU >= 0.8 are left out of precision).
"""

from __future__ import annotations

import importlib
import itertools
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import polars as pl

import recipe_audit

from benches.studies import dup_quality


def _imagededup_phash():
    import imagededup

    for package in ("methods", "utils"):  # their __init__ files import the CNN code (torchvision)
        bare = types.ModuleType(f"imagededup.{package}")
        bare.__path__ = [str(Path(imagededup.__file__).parent / package)]
        sys.modules[f"imagededup.{package}"] = bare
    return importlib.import_module("imagededup.methods.hashing").PHash


def _pairs_from_groups(groups: list[list[str]]) -> set[tuple[str, str]]:
    return {tuple(sorted(p)) for g in groups for p in itertools.combinations(sorted(set(g)), 2)}


def _score(
    pairs: set[tuple[str, str]],
    group: dict[str, int],
    truth: list[tuple[str, str, str]],
    overlapping: set[tuple[int, int]],
) -> dict[str, float]:
    found = {tuple(sorted((o, c))) for o, c, _ in truth} & pairs
    pairs = {(a, b) for a, b in pairs if (min(group[a], group[b]), max(group[a], group[b])) not in overlapping}
    tp = sum(group[a] == group[b] for a, b in pairs)
    per: dict[str, list[bool]] = {}
    for o, c, t in truth:
        per.setdefault(t, []).append(tuple(sorted((o, c))) in found)
    main = [hit for t, hits in per.items() if t not in dup_quality.OPT_IN for hit in hits]
    out = {
        "precision": tp / len(pairs) if pairs else 1.0,
        "false pairs": len(pairs) - tp,
        "recall": float(np.mean(main)),
    }
    out |= {t: float(np.mean(hits)) for t, hits in per.items()}
    return out


def main(n_orig: int = 1000, n_varied: int = 300, n_exact: int = 50) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        group, truth, table = dup_quality.build_corpus(root, n_orig, n_varied, n_exact)
        overlapping = dup_quality.overlapping_originals(table)
        n_files = len(group)
        results: dict[str, dict[str, float]] = {}
        seconds: dict[str, float] = {}

        started = time.perf_counter()
        files = recipe_audit.scan(root, progress=False)
        dups = recipe_audit.find_duplicates(files)
        seconds["recipe_audit"] = time.perf_counter() - started
        groups = dups.group_by("group").agg("path")["path"].to_list()
        results["recipe_audit"] = _score(_pairs_from_groups(groups), group, truth, overlapping)
        flipped = recipe_audit.find_duplicates(files, flips=True).group_by("group").agg("path")["path"].to_list()
        results["recipe_audit flips=True"] = _score(_pairs_from_groups(flipped), group, truth, overlapping)

        PHash = _imagededup_phash()
        started = time.perf_counter()
        found = PHash(verbose=False).find_duplicates(image_dir=str(root), recursive=True)
        seconds["imagededup"] = time.perf_counter() - started
        pairs = {tuple(sorted((str(root / a), str(root / b)))) for a, dups_of_a in found.items() for b in dups_of_a}
        results["imagededup"] = _score(pairs, group, truth, overlapping)

        from cleanvision import Imagelab

        started = time.perf_counter()
        lab = Imagelab(data_path=str(root))
        lab.find_issues({"near_duplicates": {}, "exact_duplicates": {}}, verbose=False)
        seconds["cleanvision"] = time.perf_counter() - started
        sets = lab.info["near_duplicates"]["sets"] + lab.info["exact_duplicates"]["sets"]
        results["cleanvision"] = _score(
            _pairs_from_groups([[str(p) for p in s] for s in sets]), group, truth, overlapping
        )

    tools = list(results)
    transforms = [t for t in results["recipe_audit"] if t not in ("precision", "false pairs", "recall")]
    print(f"\n{n_files} files ({n_orig} originals, {len(truth)} copies)\n")
    print("| | " + " | ".join(tools) + " |")
    print("|---" * (len(tools) + 1) + "|")
    speed = [
        f"{seconds[t]:.1f} s ({n_files / seconds[t]:.0f} files/s)" if t in seconds else "(same run)" for t in tools
    ]
    print("| wall time, hash + search | " + " | ".join(speed) + " |")
    for key in ["precision", "false pairs", "recall", *transforms]:
        label = f"recall {key}" if key in transforms else key
        cells = [f"{results[t][key]:.3f}" if key != "false pairs" else f"{results[t][key]:.0f}" for t in tools]
        print(f"| {label} | " + " | ".join(cells) + " |")
    base = seconds["recipe_audit"]
    print(
        "\nspeed ratios: "
        + ", ".join(f"{t} / recipe_audit = {seconds[t] / base:.1f}x" for t in seconds if t != "recipe_audit")
    )


if __name__ == "__main__":
    pl.Config.set_tbl_rows(50)
    main(*(int(x) for x in sys.argv[1:4]))
