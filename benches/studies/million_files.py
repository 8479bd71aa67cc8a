"""One million files on one machine: files/s, peak memory, and how fast Ctrl-C stops the scan.

    python -m benches.studies.million_files [N_FILES] [N_DISTINCT] [ROOT]   # defaults 1000000 1000 /tmp/ra_million

Writes N_DISTINCT real-photo crops (make_photo_corpus, long side 128-320 px, 10% PNG) once, then
hard-links them into ROOT/dir_XXXX/ (1,000 files a folder) up to N_FILES: a million directory
entries to walk, open, read and decode, without a million copies on disk (the page cache holds the
bytes, so this measures the scan, not the disk). Then, each in a fresh process:
  1. `recipe_audit.scan(ROOT)` on all cores: wall time, files/s and peak RSS (VmHWM);
  2. the CLI `recipe-audit scan ROOT --out F.parquet` interrupted by SIGINT after a few seconds:
     the time from the signal to the process's exit, and whether anything was written.
Prints a markdown table for BENCHMARKS.md. The tree is kept for reruns (delete ROOT to rebuild).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from recipe_audit import examples

PER_DIR = 1000

PROBE = """
import json, sys, time
import recipe_audit
def kb(field):
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith(field + ":"))
base = kb("VmRSS")
t = time.perf_counter()
files = recipe_audit.scan(sys.argv[1], progress=False)
wall = time.perf_counter() - t
print(json.dumps({"rows": files.height, "wall": wall, "peak_kb": kb("VmHWM"), "base_kb": base,
                  "ok": int((files["status"] == "ok").sum()), "frame_mb": files.estimated_size("mb")}))
"""


def build_tree(root: Path, n_files: int, n_distinct: int) -> None:
    marker = root / ".complete"
    if marker.exists() and int(marker.read_text()) == n_files:
        return
    seeds = examples.make_photo_corpus(root / ".seeds", n_distinct, seed=11, min_side=128, max_side=320)
    t = time.perf_counter()
    for k in range(n_files):
        folder = root / f"dir_{k // PER_DIR:04d}"
        if k % PER_DIR == 0:
            folder.mkdir(parents=True, exist_ok=True)
        seed = seeds[k % n_distinct]
        link = folder / f"img_{k:07d}{seed.suffix}"
        if not link.exists():
            os.link(seed, link)
    marker.write_text(str(n_files))
    print(f"built {n_files:,} links in {time.perf_counter() - t:.0f} s", file=sys.stderr)


def full_scan(root: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, str(root)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def interrupted_cli(root: Path, after_s: float = 5.0) -> dict:
    out = root.parent / "ra_million_interrupted.parquet"
    out.unlink(missing_ok=True)
    cli = Path(sys.executable).with_name("recipe-audit")
    proc = subprocess.Popen(
        [str(cli), "scan", str(root), "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    time.sleep(after_s)
    sent = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    stopped = time.perf_counter() - sent
    leftovers = [p.name for p in root.parent.glob("ra_million_interrupted*")]
    return {"stop_s": stopped, "returncode": proc.returncode, "written": leftovers, "stderr_tail": err[-200:]}


def main() -> None:
    n_files = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    n_distinct = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    root = Path(sys.argv[3]) if len(sys.argv) > 3 else Path("/tmp/ra_million")
    build_tree(root, n_files, n_distinct)
    scan = full_scan(root)
    stop = interrupted_cli(root)
    per_million = (scan["peak_kb"] - scan["base_kb"]) / 1024 * 1e6 / scan["rows"]
    print(
        "| files | cores | wall s | files/s | peak RSS MB | growth per 1M files MB | frame MB | Ctrl-C to exit s | written on Ctrl-C |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {scan['rows']:,} | {os.cpu_count()} | {scan['wall']:.0f} | {scan['rows'] / scan['wall']:,.0f} | "
        f"{scan['peak_kb'] / 1024:,.0f} | {per_million:,.0f} | {scan['frame_mb']:,.0f} | {stop['stop_s']:.2f} | "
        f"{stop['written'] or 'nothing'} |"
    )
    print(json.dumps({"scan": scan, "interrupt": stop}), file=sys.stderr)


if __name__ == "__main__":
    main()
