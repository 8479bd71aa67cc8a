"""Side-by-side corruption verdicts on truncated files: recipe_audit.scan vs PIL vs fastdup.

    python -m benches.studies.compare_fastdup [N] [FASTDUP_PYTHON]
        # N intact photos (default 300, make_photo_corpus seed 3);
        # FASTDUP_PYTHON: interpreter that has fastdup (default /tmp/fdvenv/bin/python)

The corpus holds N intact photos plus broken copies: ~60 JPEGs and ~20 PNGs cut at a random offset
(10%..99.9% of the length; one in four cut in the last 1-4 bytes only), zero-byte files and
random-bytes files named .jpg. Ground truth goes to manifest.csv next to the image folder.
Verdicts: recipe_audit status != "ok"; PIL `Image.open(p).load()` raising with
LOAD_TRUNCATED_IMAGES = False; fastdup (run in its own interpreter, CPU only) listing the file in
`fd.invalid_instances()`. Prints a markdown table of flagged counts per category and wall times.
"""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageFile

import recipe_audit
from recipe_audit import examples

CATEGORIES = [  # (key, column title); "intact" counts are false alarms
    ("trunc_jpg_mid", "trunc JPEG (10-99.9%)"),
    ("trunc_jpg_tail", "trunc JPEG (last 1-4 B)"),
    ("trunc_png_mid", "trunc PNG (10-99.9%)"),
    ("trunc_png_tail", "trunc PNG (last 1-4 B)"),
    ("empty", "empty"),
    ("random", "random bytes .jpg"),
    ("intact", "false alarms (intact)"),
]

FASTDUP_SNIPPET = r"""
import json, os, sys
import fastdup
input_dir, work_dir, out = sys.argv[1:4]
fd = fastdup.create(work_dir=work_dir, input_dir=input_dir)
fd.run(num_threads=os.cpu_count(), overwrite=True)
bad = fd.invalid_instances()
json.dump({"invalid": [[os.path.basename(f), str(e)] for f, e in zip(bad["filename"], bad["error_code"])]},
          open(out, "w"))
"""


def build_corpus(root: Path, n: int, rng: random.Random) -> dict[str, str]:
    """Writes images under root/images, returns {file name: category}, and writes root/manifest.csv."""
    images = root / "images"
    intact = examples.make_photo_corpus(images, n, seed=3)
    truth = {p.name: "intact" for p in intact}
    jpgs = [p for p in intact if p.suffix.lower() in (".jpg", ".jpeg")]
    pngs = [p for p in intact if p.suffix.lower() == ".png"]
    for kind, pool, k in (("jpg", jpgs, 60), ("png", pngs, 20)):
        for i, p in enumerate(rng.sample(pool, min(k, len(pool)))):
            data = p.read_bytes()
            if i % 4 == 3:  # cut only the last 1-4 bytes (JPEG EOI marker / PNG IEND CRC)
                cut, where = len(data) - rng.randint(1, 4), "tail"
            else:
                cut, where = int(len(data) * rng.uniform(0.10, 0.999)), "mid"
            name = f"trunc_{cut}_of_{len(data)}_{p.name}"
            (images / name).write_bytes(data[:cut])
            truth[name] = f"trunc_{kind}_{where}"
    for i, ext in enumerate((".jpg", ".jpg", ".png")):
        (images / f"empty_{i}{ext}").write_bytes(b"")
        truth[f"empty_{i}{ext}"] = "empty"
    for i in range(5):
        (images / f"random_{i}.jpg").write_bytes(rng.randbytes(rng.randint(100, 200_000)))
        truth[f"random_{i}.jpg"] = "random"
    with open(root / "manifest.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "category", "broken"])
        for name, cat in sorted(truth.items()):
            w.writerow([name, cat, int(cat != "intact")])
    return truth


def verdict_recipe_audit(images: Path) -> set[str]:
    df = recipe_audit.scan(images, progress=False)
    return {os.path.basename(p) for p, s in zip(df["path"], df["status"]) if s != "ok"}


def verdict_pil(images: Path) -> set[str]:
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    flagged = set()
    for p in sorted(images.iterdir()):
        try:
            with Image.open(p) as im:
                im.load()
        except Exception:
            flagged.add(p.name)
    return flagged


def verdict_fastdup(images: Path, work: Path, python: str) -> tuple[set[str] | None, str]:
    """Returns (flagged names, note); flagged is None when fastdup could not run."""
    if not os.path.exists(python):
        return None, f"no interpreter at {python}"
    out = work.parent / "fastdup_result.json"
    env = dict(os.environ, SENTRY_OPT_OUT="1", CUDA_VISIBLE_DEVICES="")
    try:
        r = subprocess.run(
            [python, "-c", FASTDUP_SNIPPET, str(images), str(work), str(out)],
            capture_output=True,
            text=True,
            env=env,
            timeout=1800,
            cwd=work.parent,
        )
    except subprocess.TimeoutExpired:
        return None, "timed out after 1800 s"
    if r.returncode != 0 or not out.exists():
        tail = (r.stderr or r.stdout).strip().splitlines()[-3:]
        return None, f"exit code {r.returncode}: " + " | ".join(tail)
    res = json.loads(out.read_text())
    codes: dict[str, int] = {}
    for _, code in res["invalid"]:
        codes[code] = codes.get(code, 0) + 1
    return {name for name, _ in res["invalid"]}, f"invalid_instances() error codes: {codes or 'none'}"


def main(n: int, fd_python: str) -> None:
    rng = random.Random(3)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        truth = build_corpus(root, n, rng)
        images = root / "images"
        totals = {key: sum(c == key for c in truth.values()) for key, _ in CATEGORIES}
        rows, notes = [], []
        for tool, fn in (
            ("recipe_audit.scan", lambda: (verdict_recipe_audit(images), "")),
            ("PIL open().load()", lambda: (verdict_pil(images), "")),
            ("fastdup", lambda: verdict_fastdup(images, root / "fd_work", fd_python)),
        ):
            t0 = time.perf_counter()
            flagged, note = fn()
            wall = time.perf_counter() - t0
            if note:
                notes.append(f"{tool}: {note}")
            if flagged is None:
                notes.append(f"{tool}: SKIPPED, could not run")
                continue
            unknown = flagged - truth.keys()
            if unknown:
                notes.append(f"{tool}: {len(unknown)} reported names not in the corpus, e.g. {sorted(unknown)[:3]}")
            counts = {key: sum(1 for f in flagged if truth.get(f) == key) for key, _ in CATEGORIES}
            rows.append((tool, counts, wall))
        print(
            f"corpus: {len(truth)} files, {totals['intact']} intact, {len(truth) - totals['intact']} broken "
            f"(cpu count {os.cpu_count()})\n"
        )
        print("| tool | " + " | ".join(f"{title} /{totals[key]}" for key, title in CATEGORIES) + " | wall s |")
        print("|---" * (len(CATEGORIES) + 2) + "|")
        for tool, counts, wall in rows:
            print(f"| {tool} | " + " | ".join(str(counts[key]) for key, _ in CATEGORIES) + f" | {wall:.2f} |")
        for line in notes:
            print(f"\n- {line}", end="")
        print()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300, sys.argv[2] if len(sys.argv) > 2 else "/tmp/fdvenv/bin/python")
