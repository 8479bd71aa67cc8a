"""Near duplicates cropped to another aspect ratio: a photograph cut to a square, to 4:5 or to 16:9
(a feed's frame, a model's centre crop), which removes 10-50% of one side only.

    python -m benches.studies.dup_aspect_crops --seed 107 --half tuning [--dir /tmp/dup_aspect107]

Originals are made as `dup_corpus.build` makes them (per source photograph of ``--half``, 4 crops
of 30-80% of each side with pairwise IoU < 0.3, long side 200-800 px). Per original, one copy per
target aspect (1:1, 4:5, 5:4, 16:9, 9:16, 3:2, 2:3) that is reached by cutting one side by 8% or
more: that side is cut at a random place (centred, flush or anywhere between), and the copy saved
as JPEG q80-95 (the edits of `dup_unseen_edits`' canvas and letterbox use the same encoding). Two
control copies per original (a 2-10% asymmetric crop, a 2-5 degree turn: the goal edits) check that
nothing is lost.

Prints recall per share of the side removed (8-15%, 15-25%, 25-35%, 35-50%, over 50%), per target,
the controls, and the pairwise precision of the groups (`dup_unseen_edits.judge`).
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
from PIL import Image

import recipe_audit

import benches.studies.sources as sources
from benches.studies.dup_corpus import TRANSFORMS, _encode
from benches.studies.dup_unseen_edits import judge, originals

TARGETS = {"1:1": 1.0, "4:5": 0.8, "5:4": 1.25, "16:9": 16 / 9, "9:16": 9 / 16, "3:2": 1.5, "2:3": 2 / 3}
MIN_CUT = 0.08
BANDS = ((0.08, 0.15), (0.15, 0.25), (0.25, 0.35), (0.35, 0.5), (0.5, 1.0))


def cut_to(rng: np.random.Generator, im: Image.Image, aspect: float) -> tuple[Image.Image, float] | None:
    """`im` cut along one side to `aspect` (width / height) at a random place, and the share of
    that side removed; None when less than MIN_CUT would go."""
    w, h = im.size
    if w / h > aspect:
        keep = round(h * aspect)
        cut = 1 - keep / w
        if cut < MIN_CUT:
            return None
        x0 = int(rng.integers(0, w - keep + 1))
        return im.crop((x0, 0, x0 + keep, h)), cut
    keep = round(w / aspect)
    cut = 1 - keep / h
    if cut < MIN_CUT:
        return None
    y0 = int(rng.integers(0, h - keep + 1))
    return im.crop((0, y0, w, y0 + keep)), cut


Copies = Callable[[np.random.Generator, Image.Image], list[tuple[str, Image.Image, str]]]
"""Per original: (edit name, copy, detail) for each copy made of it."""


def write_copies(root: Path, *, seed: int, half: str, copies_of: Copies, originals_per_source: int = 4) -> pl.DataFrame:
    """Per original of `half` (`dup_unseen_edits.originals`): the original itself and the copies
    `copies_of` makes, each saved as JPEG q80-95 under `root`; the table `dup_unseen_edits.judge`
    reads (``path``, ``source``, ``original``, ``edit``, ``plan``, ``detail``, the region)."""
    rng = np.random.default_rng(seed)
    rows = []
    root.mkdir(parents=True, exist_ok=True)
    for photo, number, box, original in originals(rng, half, originals_per_source):
        ident = f"{photo.name}#{number}"
        for edit, im, detail in [("original", original, ""), *copies_of(rng, original)]:
            data, ext = _encode(rng, im.convert("RGB"), [])
            path = root / f"{len(rows):06d}_{edit.replace(':', '_').replace(' ', '_')}.{ext}"
            path.write_bytes(data)
            rows.append((str(path), photo.name, ident, edit, edit, detail, *box))
    schema = ["path", "source", "original", "edit", "plan", "detail", "top", "left", "bottom", "right"]
    return pl.DataFrame(rows, schema=schema, orient="row")


def _aspect_copies(rng: np.random.Generator, original: Image.Image) -> list[tuple[str, Image.Image, str]]:
    copies: list[tuple[str, Image.Image, str]] = []
    for name, aspect in TARGETS.items():
        made = cut_to(rng, original, aspect)
        if made is not None:
            copies.append((f"aspect {name}", made[0], f"cut={made[1]:.3f}"))
    for control in ("crop", "rotate"):
        copies.append((f"control:{control}", TRANSFORMS[control](rng, original), ""))
    return copies


def build(root: Path, *, seed: int, half: str, originals_per_source: int = 4) -> pl.DataFrame:
    return write_copies(root, seed=seed, half=half, copies_of=_aspect_copies, originals_per_source=originals_per_source)


def copies_parser(doc: str | None, name: str) -> argparse.ArgumentParser:
    """The options of a study of copies: ``--seed``, ``--half``, ``--dir`` (default
    /tmp/<name><seed>), ``--reuse``, ``--sources``."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--half", choices=("tuning", "heldout"), required=True)
    ap.add_argument("--dir", type=Path, default=None, help=f"default /tmp/{name}<seed>")
    ap.add_argument("--reuse", action="store_true", help="reuse the corpus already in --dir")
    ap.add_argument("--sources", type=Path, default=None, help="draw from the pictures listed in this file (`sources`)")
    return ap


def searched(
    args: argparse.Namespace, name: str, make: Callable[..., pl.DataFrame]
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The corpus `make` writes (or the one in ``--dir`` with ``--reuse``), scanned and grouped by
    the default rule: (table, scan, groups)."""
    sources.use(args.sources)
    root = args.dir or Path(f"/tmp/{name}{args.seed}")
    if not args.reuse:
        shutil.rmtree(root, ignore_errors=True)
        make(root / "corpus", seed=args.seed, half=args.half).write_parquet(root / "table.parquet")
    table = pl.read_parquet(root / "table.parquet")
    files = recipe_audit.scan(table["path"].to_list(), progress=False)
    return table, files, recipe_audit.find_duplicates(files)


def recall_table(recall: dict[str, tuple[float, int]], pairs: dict[str, object]) -> str:
    """`dup_unseen_edits.judge`'s recall per copy as a markdown table, and a line on the pairs."""
    lines = ["| copy | copies | recall |", "|---|---|---|"]
    lines += [f"| {edit} | {n} | {share:.2f} |" for edit, (share, n) in recall.items() if n]
    return "\n".join(lines) + (
        f"\n\npairs in groups {pairs['true'] + pairs['false']}, false {pairs['false']} "  # type: ignore[operator]
        f"({pairs['across']} between different photographs), precision {pairs['precision']:.4f}, "
        f"largest group {pairs['largest']}"
    )


def main() -> None:
    args = copies_parser(__doc__, "dup_aspect").parse_args()
    table, _, groups = searched(args, "dup_aspect", build)
    recall, pairs = judge(table, groups)
    group_of = dict(groups.select("path", "group").iter_rows())
    original_path = dict(table.filter(pl.col("edit") == "original").select("original", "path").iter_rows())
    cuts = table.filter(pl.col("edit").str.starts_with("aspect")).with_columns(
        cut=pl.col("detail").str.extract(r"cut=([0-9.]+)").cast(pl.Float64),
        found=pl.struct("path", "original").map_elements(
            lambda r: (
                group_of.get(r["path"]) is not None
                and group_of.get(r["path"]) == group_of.get(original_path[r["original"]])
            ),
            return_dtype=pl.Boolean,
        ),
    )
    print(
        f"seed {args.seed}, {args.half} photographs: {table.height} files, {table['original'].n_unique()} originals\n"
    )
    print("| share of the side cut | " + " | ".join(f"{lo:.0%}-{hi:.0%}" for lo, hi in BANDS) + " |")
    print("|---|" + "---|" * len(BANDS))
    cells = []
    for lo, hi in BANDS:
        part = cuts.filter((pl.col("cut") >= lo) & (pl.col("cut") < hi))
        cells.append(f"{part['found'].mean():.2f} ({part.height})" if part.height else "-")
    print("| recall | " + " | ".join(cells) + " |\n")
    print(recall_table(recall, pairs))


if __name__ == "__main__":
    main()
