"""Print a markdown table of files/s from pytest-benchmark JSON (``--benchmark-json``).

Usage: ``python -m benches.studies.report bench.json [more.json ...]``

Throughput uses the best round (``min``) of each benchmark: files / min seconds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ORDER = [
    "imagehash",
    "pil_draft",
    "pil_full",
    "ra_scan_threads1",
    "ra_scan_all_cores",
    "ra_scan_threads1_fast",
    "ra_scan_all_cores_fast",
]
RATIOS = [
    ("scan (all cores) / imagehash", "ra_scan_all_cores", "imagehash"),
    ("scan (threads=1) / imagehash", "ra_scan_threads1", "imagehash"),
    ("scan (threads=1) / PIL draft decode (floor)", "ra_scan_threads1", "pil_draft"),
    ("scan (all cores) / scan (threads=1)", "ra_scan_all_cores", "ra_scan_threads1"),
    ("scan min_decode_side=8 (all cores) / imagehash", "ra_scan_all_cores_fast", "imagehash"),
    ("scan min_decode_side=8 (threads=1) / PIL draft decode (floor)", "ra_scan_threads1_fast", "pil_draft"),
]


def _key(name: str) -> str:
    name = name.split("[", 1)[0]
    return name[len("test_") :] if name.startswith("test_") else name


def load(paths: list[str]) -> tuple[dict[str, dict], dict]:
    rows: dict[str, dict] = {}
    machine: dict = {}
    for path in paths:
        doc = json.loads(Path(path).read_text())
        machine = doc.get("machine_info", machine)
        for b in doc["benchmarks"]:
            files = b.get("extra_info", {}).get("files")
            if not files:
                continue
            best = b["stats"]["min"]
            rows[_key(b["name"])] = {
                "what": b.get("extra_info", {}).get("what", b["name"]),
                "files": files,
                "rounds": b["stats"]["rounds"],
                "best_s": best,
                "median_s": b["stats"]["median"],
                "fps": files / best,
            }
    return rows, machine


def render(rows: dict[str, dict], machine: dict) -> str:
    cpu = machine.get("cpu", {})
    lines = [
        f"Machine: {cpu.get('brand_raw', machine.get('processor', '?'))}, "
        f"{cpu.get('count', '?')} logical CPUs, Python {machine.get('python_version', '?')}",
        "",
        "| benchmark | what | files | best s | median s | files/s |",
        "|---|---|---:|---:|---:|---:|",
    ]
    keys = [k for k in ORDER if k in rows] + sorted(k for k in rows if k not in ORDER)
    for k in keys:
        r = rows[k]
        lines.append(
            f"| `{k}` | {r['what']} | {r['files']} | {r['best_s']:.2f} | {r['median_s']:.2f} | {r['fps']:,.0f} |"
        )
    lines += ["", "| ratio (files/s) | value |", "|---|---:|"]
    for label, num, den in RATIOS:
        both = num in rows and den in rows
        value = f"{rows[num]['fps'] / rows[den]['fps']:.2f}x" if both else "n/a"
        lines.append(f"| {label} | {value} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    rows, machine = load(argv)
    print(render(rows, machine))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
