"""Instructions per JPEG of the scan's per-file pipeline, counted by callgrind (noise-free), against
PIL's draft decode of the same files, and optionally against another build of the pipeline.

    python -m benches.studies.scan_instructions [--files 100] [--baseline OTHER_BINARY] [--top 12]

Builds `examples/scan_instructions.rs` (`scan::analyze` on every file of a folder, one thread, the
files read before counting starts), writes `--files` JPEGs with `make_photo_corpus` (seed 4, no
PNG, no gray), and runs, each under `valgrind --tool=callgrind`:

- the pipeline (and `--baseline`, e.g. the same example built from an older commit);
- PIL: ``draft("L", ...)`` at the scale the scan picks (shorter side >= 64) and ``load()``, minus
  the same Python process that only opens the files, so the difference is the decode alone.

Prints instructions per JPEG and the functions with the largest self cost.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from recipe_audit.examples import make_photo_corpus

ROOT = Path(__file__).resolve().parents[2]
_PIL = """
import sys, glob
from PIL import Image
paths = sorted(glob.glob(sys.argv[1] + "/*"))
blobs = [open(p, "rb").read() for p in paths]
import io
for b in blobs:
    im = Image.open(io.BytesIO(b))
    if sys.argv[2] == "decode":
        w, h = im.size
        f = next(f for f in (8, 4, 2, 1) if min(-(-w // f), -(-h // f)) >= 64 or f == 1)
        im.draft("L", (-(-w // f), -(-h // f)))
        im.load()
"""


def callgrind(command: list[str], out: Path) -> int:
    run = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *command], capture_output=True, text=True
    )
    match = re.search(r"Collected : (\d+)", run.stderr)
    if run.returncode != 0 or not match:
        raise SystemExit(f"callgrind failed on {command}: {run.stderr[-2000:]}")
    return int(match.group(1))


def top_functions(out: Path, n: int) -> list[tuple[int, str]]:
    text = subprocess.run(["callgrind_annotate", str(out)], capture_output=True, text=True).stdout
    rows = []
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+) \([\s\d.]+%\)\s+(\S.*?) \[", line)
        if m and "PROGRAM TOTALS" not in line:
            rows.append((int(m.group(1).replace(",", "")), m.group(2).split(":", 1)[-1]))
    return rows[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=100)
    ap.add_argument("--baseline", type=Path, help="another build of examples/scan_instructions to compare with")
    ap.add_argument("--top", type=int, default=12)
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--example", "scan_instructions"], cwd=ROOT, check=True)
    binary = ROOT / "target" / "release" / "examples" / "scan_instructions"
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "jpegs"
        make_photo_corpus(corpus, args.files, seed=4, png_share=0.0, gray_share=0.0)
        n = args.files
        ours = callgrind([str(binary), str(corpus)], Path(tmp) / "ours.out")
        script = Path(tmp) / "pil.py"
        script.write_text(_PIL)
        decode = callgrind([sys.executable, str(script), str(corpus), "decode"], Path(tmp) / "pil.out")
        opened = callgrind([sys.executable, str(script), str(corpus), "open"], Path(tmp) / "open.out")
        floor = decode - opened
        print("| measure | instructions per JPEG | vs PIL draft decode |\n|---|---:|---:|")
        print(f"| PIL draft('L') + load(), decode alone | {floor / n / 1e6:.2f}M | 1.00x |")
        print(f"| scan pipeline (scan::analyze, one thread) | {ours / n / 1e6:.2f}M | {ours / floor:.2f}x |")
        if args.baseline:
            base = callgrind([str(args.baseline), str(corpus)], Path(tmp) / "base.out")
            print(f"| baseline build | {base / n / 1e6:.2f}M | {base / floor:.2f}x |")
            print(f"\npipeline / baseline: {ours / base:.4f} ({(ours - base) / n / 1e3:+.0f}k per JPEG)")
        print("\n| function (self cost) | per JPEG |\n|---|---:|")
        for cost, name in top_functions(Path(tmp) / "ours.out", args.top):
            print(f"| `{name}` | {cost / n / 1e3:.0f}k |")


if __name__ == "__main__":
    main()
