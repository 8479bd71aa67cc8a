"""Solid frames and their JPEG copies: does every copy find its original, and how many different
colours merge? (Flat pictures are matched by level and hue, not by hash.)

    python -m benches.studies.flat_frames [--seed 3] [--colours 300] [--quality 30 70] [--dir /tmp/flat_frames]

Draws `--colours` random RGB colours, writes each as a 160x120 PNG with sensor-like noise (sigma 1)
and as a JPEG copy at a random quality in the range, scans the folder and prints how many copies
land in their original's group, the number of groups (one per colour is ideal) and the largest.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

import recipe_audit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--colours", type=int, default=300)
    ap.add_argument("--quality", type=int, nargs=2, default=(30, 70))
    ap.add_argument("--dir", type=Path, default=Path("/tmp/flat_frames"))
    args = ap.parse_args()
    shutil.rmtree(args.dir, ignore_errors=True)
    args.dir.mkdir(parents=True)
    rng = np.random.default_rng(args.seed)
    for i in range(args.colours):
        colour = rng.integers(0, 256, 3)
        pixels = np.clip(np.full((120, 160, 3), colour, np.float64) + rng.normal(0, 1.0, (120, 160, 3)), 0, 255)
        frame = Image.fromarray(pixels.astype(np.uint8))
        frame.save(args.dir / f"f{i:04d}_original.png")
        frame.save(args.dir / f"f{i:04d}_copy.jpg", quality=int(rng.integers(*args.quality)))
    files = recipe_audit.scan(args.dir, progress=False)
    groups = recipe_audit.find_duplicates(files)
    group = dict(zip(groups["path"], groups["group"]))
    found = sum(
        group.get(str(args.dir / f"f{i:04d}_original.png"))
        == group.get(str(args.dir / f"f{i:04d}_copy.jpg"))
        is not None
        for i in range(args.colours)
    )
    sizes = groups.group_by("group").len()["len"]
    print(f"copies found {found} of {args.colours}; {sizes.len()} groups, the largest {sizes.max()} files")


if __name__ == "__main__":
    main()
