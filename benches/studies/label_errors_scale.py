"""find_label_errors against cleanlab's find_label_issues at scale: time and peak memory.

    pip install cleanlab
    python -m benches.studies.label_errors_scale [--sizes 10000000x10,1000000x1000] [--dtype float32]

Each run is a fresh process that generates float32 (or --dtype float64) probabilities (a seeded softmax of noisy
logits, 10% of the labels flipped), imports the tool, then times its first call alone (page
faults included) and reports the process's peak resident memory against the size of the
probability array.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import resource, sys, time
    import numpy as np
    n, k, tool, dtype = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    rng = np.random.default_rng(0)
    truth = rng.integers(0, k, n)
    labels = truth.copy()
    flip = rng.random(n) < 0.1
    labels[flip] = (truth[flip] + rng.integers(1, k, int(flip.sum()))) % k
    probs = np.empty((n, k), dtype=dtype)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        block = rng.normal(0, 1, (stop - start, k)).astype(np.float32)
        block[np.arange(stop - start), truth[start:stop]] += 3
        block = np.exp(block - block.max(axis=1, keepdims=True))
        probs[start:stop] = block / block.sum(axis=1, keepdims=True)
    # Imported before the clock starts: the call is timed, not the import (cleanlab's is ~1.5 s).
    if tool == "ours":
        from recipe_audit import find_label_errors
        def call():
            return int(find_label_errors(labels, probs)["is_label_error"].sum())
    else:
        from cleanlab.filter import find_label_issues
        def call():
            return int(find_label_issues(labels, probs).sum())
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    started = time.perf_counter()
    found = call()
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"{seconds:.2f} {peak / probs.nbytes:.2f} {(peak - before) / probs.nbytes:.2f} {found}")
    """
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000000x10,1000000x1000")
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    ap.add_argument("--timeout", type=int, default=900)
    args = ap.parse_args()
    print("| rows x classes | tool | seconds | peak RSS / probs array | added during the call / probs | flagged |")
    print("|---|---|---:|---:|---:|---:|")
    for size in args.sizes.split(","):
        n, k = size.split("x")
        for tool in ("ours", "cleanlab"):
            try:
                run = subprocess.run(
                    [sys.executable, "-c", CHILD, n, k, tool, args.dtype],
                    capture_output=True,
                    text=True,
                    timeout=args.timeout,
                )
                # The last line: cleanlab prints advice on stdout before it.
                last = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else ""
                cells = last.split() if run.returncode == 0 else ["failed: " + run.stderr.strip().splitlines()[-1]]
            except subprocess.TimeoutExpired:
                cells = [f"over {args.timeout} s"]
            print(f"| {int(n):,} x {k} {args.dtype} | {tool} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
