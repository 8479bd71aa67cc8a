"""What the default near-duplicate search costs as a collection grows (issue 16, "holds at 1e8").

    python -m benches.studies.dup_search_cost /tmp/dh149 /tmp/dh153 [--baseline /tmp/ra_base/python]

Takes two or more corpus folders written by `dup_heldout.py`: the first and the second must come
from disjoint sources (`--sources benches/studies/unseen_sources.txt` for one, the default library
for the other), so every pair between them is unrelated. Prints:

1. `find_duplicates` on all the corpora's files together and on random halves and quarters of
   them: CPU seconds, wall seconds and peak memory (each run in a fresh process). With
   `--baseline` (the `python/` folder of another build, e.g. a worktree of an older commit with
   its `_core` copied in) the same runs with that build, one after the other in the same loop.
2. One tile of the search between the first two corpora (`thumbmatch.tile_links`): pairs, the
   candidates the hashes give (whole picture against windows, both ways), those scored, the links,
   and CPU per pair, extrapolated to a search of 1e6, 1e7 and 1e8 unrelated pictures (the term
   that grows with the square of the collection; the part linear in it, hashing and the links
   within families of copies, is the first table's).
3. `DuplicateIndex` of all corpora but the last, queried twice with 2,000 files of the last (the
   second query reuses what the first built), with both builds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

RUN = """
import json, resource, sys, time
import polars as pl, recipe_audit
files = pl.concat([pl.read_parquet(p) for p in sys.argv[2:]])
n = int(sys.argv[1])
if n < files.height:
    files = files.sample(n, seed=0)
cpu, wall = time.process_time(), time.time()
groups = recipe_audit.find_duplicates(files)
print(json.dumps({"files": files.height, "cpu": time.process_time() - cpu, "wall": time.time() - wall,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "grouped": groups.height}))
"""


RUN_INDEX = """
import json, resource, sys, time
import polars as pl
from recipe_audit.dedup.index import DuplicateIndex
index = DuplicateIndex(pl.concat([pl.read_parquet(p) for p in sys.argv[2:]]))
new = pl.read_parquet(sys.argv[1]).sample(2000, seed=1)
out = []
for _ in range(2):
    cpu, wall = time.process_time(), time.time()
    found = index.query(new)
    out.append({"cpu": time.process_time() - cpu, "wall": time.time() - wall, "found": found.height})
print(json.dumps({"indexed": len(index), "queries": out,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def scans(dirs: list[Path]) -> list[Path]:
    """Each corpus scanned once into ``scan.parquet`` beside it."""
    import recipe_audit

    out = []
    for d in dirs:
        path = d / "scan.parquet"
        if not path.exists():
            recipe_audit.scan(d / "corpus", progress=False).write_parquet(path)
        out.append(path)
    return out


def run(script: str, args: list[str], pythonpath: str | None) -> dict:  # type: ignore[type-arg]
    """`script` in a fresh interpreter (with `pythonpath` first on the path): its last line, as JSON."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    done = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def tile_cost(first: Path, second: Path) -> None:
    import recipe_audit.dedup.thumbmatch as thumbmatch
    from recipe_audit.dedup.rule import window_rule_rows

    def chunk(path: Path) -> thumbmatch.Chunk:
        files = window_rule_rows(pl.read_parquet(path))
        thumbs = thumbmatch.thumbnails(files)
        textured = thumbs.std(axis=1) >= thumbmatch.FLAT_STD
        files = files.filter(pl.Series(textured))
        return thumbmatch.chunk(thumbs[textured], thumbmatch.shapes(files), thumbmatch.sign_maps(files))

    a, b = chunk(first), chunk(second)
    counts = {"candidates": 0, "scored": 0}
    candidates, scored = thumbmatch._candidates, thumbmatch._with_correlations

    def counted_candidates(*args, **kwargs):  # type: ignore[no-untyped-def]
        out = candidates(*args, **kwargs)
        counts["candidates"] += out.height
        return out

    def counted_scores(found, *args, **kwargs):  # type: ignore[no-untyped-def]
        counts["scored"] += found.height
        return scored(found, *args, **kwargs)

    thumbmatch._candidates, thumbmatch._with_correlations = counted_candidates, counted_scores  # type: ignore[assignment]
    try:
        cpu, wall = time.process_time(), time.time()
        links, _, _ = thumbmatch.tile_links(a, b, (0, 0))
        cpu, wall = time.process_time() - cpu, time.time() - wall
    finally:
        thumbmatch._candidates, thumbmatch._with_correlations = candidates, scored  # type: ignore[assignment]
    pairs = len(a[0]) * len(b[0])
    per_pair = cpu / pairs
    print(f"\nOne tile between {first.parent.name} and {second.parent.name} (every pair unrelated):\n")
    print("| textured pictures | pairs | candidates | scored | links | CPU s | wall s | CPU s per pair |")
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {len(a[0]):,} x {len(b[0]):,} | {pairs:.3g} | {counts['candidates']:,} ({counts['candidates'] / pairs:.2g} a pair) "
        f"| {counts['scored']:,} | {len(links)} | {cpu:.2f} | {wall:.2f} | {per_pair:.2g} |"
    )
    print("\n| pictures searched | pairs | CPU core-hours for the term that grows with the square |")
    print("|---|---|---|")
    for n in (1e6, 1e7, 1e8):
        print(f"| {n:.0e} | {n * n / 2:.1e} | {n * n / 2 * per_pair / 3600:,.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--baseline", default=None, help="PYTHONPATH of the build to compare with")
    args = ap.parse_args()
    parquets = scans(args.dirs)
    total = sum(pl.scan_parquet(p).select(pl.len()).collect().item() for p in parquets)
    builds = [("this build", None)] + ([("baseline", args.baseline)] if args.baseline else [])
    print("| files | build | CPU s | wall s | peak MB | files in groups |")
    print("|---|---|---|---|---|---|")
    for n in (total // 4, total // 2, total):
        for name, path in builds:
            r = run(RUN, [str(n), *map(str, parquets)], path)
            print(
                f"| {r['files']:,} | {name} | {r['cpu']:.1f} | {r['wall']:.1f} | {r['peak_mb']:.0f} | {r['grouped']:,} |"
            )
    if len(parquets) >= 2:
        tile_cost(parquets[0], parquets[1])
        print("\n| build | indexed files | query | CPU s | wall s | found | peak MB |")
        print("|---|---|---|---|---|---|---|")
        for name, path in builds:
            r = run(RUN_INDEX, [str(parquets[-1]), *map(str, parquets[:-1])], path)
            for i, q in enumerate(r["queries"]):
                print(
                    f"| {name} | {r['indexed']:,} | {'first' if i == 0 else 'second'} | {q['cpu']:.1f} "
                    f"| {q['wall']:.1f} | {q['found']} | {r['peak_mb']:.0f} |"
                )


if __name__ == "__main__":
    main()
