"""Near duplicates among pictures on a dark sky: Stellarium's galaxies, nebulae and clusters, each
with edited copies, judged with the sign bar between two dark-sky pictures
(`thumbmatch.DARK_SKY_SIGN_BEYOND_CHANCE`) and with the everyday bar (the rule before it).

    python -m benches.studies.dup_dark_sky --part tuning --seed 501 --dir /tmp/sky_tune
    python -m benches.studies.dup_dark_sky --part heldout --seed 777 --dir /tmp/sky_held [--exclude FILE]

The 559 pictures of /usr/share/stellarium/nebulae/default are split by file into a tuning and a
held-out part (a fixed shuffle); ``--exclude`` leaves out the stems listed in a file (an outside
evaluator's, so that its set stays unseen). Every picture of the part is an original (whole, on
black, PNG or JPEG q95) with a copy for each edit of `dup_corpus.TRANSFORMS` and five copies with
two goal edits. Prints, per bar: the pairs `duplicate_pairs` lists and how many join different
pictures, the pairwise precision those imply, the groups of `find_duplicates` that mix pictures,
and the recall of each edit (the copy in its original's group).
"""

from __future__ import annotations

import argparse
import io
import random
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl
from PIL import Image

import recipe_audit
from recipe_audit.dedup import thumbmatch

from benches.studies.dup_corpus import GOAL_TRANSFORMS, TRANSFORMS, _encode

NEBULAE = Path("/usr/share/stellarium/nebulae/default")
SPLIT_SEED = 20261207
PAIRS = 5


def part(name: str, exclude: Path | None) -> list[str]:
    left_out = {line.strip().removeprefix("neb_") for line in exclude.read_text().splitlines()} if exclude else set()
    stems = [p.stem for p in sorted(NEBULAE.glob("*.png")) if p.stem not in left_out]
    random.Random(SPLIT_SEED).shuffle(stems)
    half = len(stems) // 2
    return sorted(stems[:half] if name == "tuning" else stems[half:])


def _on_black(stem: str) -> Image.Image:
    with Image.open(NEBULAE / f"{stem}.png") as im:
        rgba = im.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba).convert("RGB")


def make(stems: list[str], seed: int, out: Path) -> pl.DataFrame:
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for k, (stem, child) in enumerate(zip(stems, np.random.SeedSequence(seed).spawn(len(stems)))):
        rng = np.random.default_rng(child)
        picture = _on_black(stem)
        buf = io.BytesIO()
        png = rng.random() < 0.5
        picture.save(buf, format="PNG") if png else picture.save(buf, format="JPEG", quality=95)
        path = out / f"{k:03d}_{stem}__original.{'png' if png else 'jpg'}"
        path.write_bytes(buf.getvalue())
        rows.append((str(path), stem, "original"))
        plans = [[t] for t in TRANSFORMS] + [list(rng.choice(GOAL_TRANSFORMS, 2, replace=False)) for _ in range(PAIRS)]
        for plan in plans:
            edited = picture
            for t in plan:
                edited = TRANSFORMS[t](rng, edited)
            data, ext = _encode(rng, edited, plan)
            path = out / f"{k:03d}_{stem}__{'+'.join(plan)}.{ext}"
            path.write_bytes(data)
            rows.append((str(path), stem, "+".join(plan)))
    return pl.DataFrame(rows, schema=["path", "picture", "edit"], orient="row")


def judge(table: pl.DataFrame, files: pl.DataFrame) -> tuple[str, dict[str, float]]:
    picture = dict(zip(table["path"], table["picture"]))
    pairs = recipe_audit.duplicate_pairs(files)
    same = [picture[a] == picture[b] for a, b in zip(pairs["path_a"], pairs["path_b"])]
    groups = recipe_audit.find_duplicates(files)
    group = dict(zip(groups["path"], groups["group"]))
    members: dict[int, list[str]] = {}
    for path, g in group.items():
        members.setdefault(g, []).append(path)
    implied = implied_false = mixed = 0
    for paths in members.values():
        counts = Counter(picture[p] for p in paths)
        n = len(paths)
        implied += n * (n - 1) // 2
        implied_false += (n * (n - 1) - sum(c * (c - 1) for c in counts.values())) // 2
        mixed += len(counts) > 1
    original = dict(table.filter(pl.col("edit") == "original").select("picture", "path").iter_rows())
    found: dict[str, list[int]] = {}
    for path, pic, edit in table.filter(pl.col("edit") != "original").iter_rows():
        key = "two edits" if "+" in edit else edit
        hit = path in group and original[pic] in group and group[path] == group[original[pic]]
        found.setdefault(key, []).append(int(hit))
    line = (
        f"{len(same)} links, {len(same) - sum(same)} between different pictures (precision "
        f"{sum(same) / max(1, len(same)):.3f}); groups imply {implied} pairs, {implied_false} false "
        f"(precision {(implied - implied_false) / max(1, implied):.3f}), {mixed} groups mix pictures"
    )
    return line, {k: float(np.mean(v)) for k, v in sorted(found.items())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=("tuning", "heldout"), required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--dir", type=Path, required=True)
    ap.add_argument("--exclude", type=Path, default=None, help="stems to leave out, one a line")
    args = ap.parse_args()
    table_path = args.dir / "table.parquet"
    if table_path.exists():
        table = pl.read_parquet(table_path)
    else:
        table = make(part(args.part, args.exclude), args.seed, args.dir / "data")
        table.write_parquet(table_path)
    files = recipe_audit.scan(table["path"].to_list(), progress=False)
    print(f"{args.part}, seed {args.seed}: {table['picture'].n_unique()} pictures, {table.height} files\n")
    rows = []
    for name, bar in (
        ("everyday bar (before)", thumbmatch.SIGN_BEYOND_CHANCE),
        ("dark-sky bar", thumbmatch.DARK_SKY_SIGN_BEYOND_CHANCE),
    ):
        chosen = thumbmatch.DARK_SKY_SIGN_BEYOND_CHANCE
        thumbmatch.DARK_SKY_SIGN_BEYOND_CHANCE = bar
        try:
            line, recall = judge(table, files)
        finally:
            thumbmatch.DARK_SKY_SIGN_BEYOND_CHANCE = chosen
        print(f"- {name} ({bar:g}): {line}")
        rows.append((name, recall))
    edits = list(rows[0][1])
    print("\n| bar | " + " | ".join(edits) + " |\n|---|" + "---|" * len(edits))
    for name, recall in rows:
        print(f"| {name} | " + " | ".join(f"{recall[e]:.2f}" for e in edits) + " |")


if __name__ == "__main__":
    main()
