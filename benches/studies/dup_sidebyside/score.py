"""Score every /tmp/sbs/groups/*.parquet with dup_heldout.judge (held-out photo rows)."""

import json
import os
import sys
from pathlib import Path

import polars as pl

from benches.studies.dup_heldout import judge

t = pl.read_parquet(f"{os.environ.get('CORPUS', '/tmp/dh19')}/table.parquet").filter(pl.col("source_kind") == "photo")
# tuning photo rows are kept only so judge's 'tuning' row is computable (no groups there: all 0); we report 'heldout'
ORDER = [
    "recipe_audit default",
    "recipe_audit crops=False",
    "imagehash phash <=10",
    "imagededup PHash <=10",
    "cleanvision near+exact",
    "fastdup components (cc 0.96)",
    "fastdup similarity >=0.9",
]
names = [n for n in ORDER if Path(f"{os.environ.get('WORK', '/tmp/sbs')}/groups/{n}.parquet").exists()]
lines = []
cols = None
for n in names:
    groups = pl.read_parquet(f"{os.environ.get('WORK', '/tmp/sbs')}/groups/{n}.parquet")
    assert groups["path"].is_in(t.filter(pl.col("half") == "heldout")["path"].implode()).all()
    meta = json.loads(Path(f"{os.environ.get('WORK', '/tmp/sbs')}/groups/{n}.json").read_text())
    p2 = Path(f"{os.environ.get('WORK', '/tmp/sbs')}/groups_run2/{n}.json")
    sec = f"{meta['seconds']:.0f}" + (f" / {json.loads(p2.read_text())['seconds']:.0f}" if p2.exists() else "")
    row = judge(t, groups)["heldout"]
    if cols is None:
        cols = list(row)
        lines.append("| tool (setting) | " + " | ".join(cols) + " | seconds (run 1 / run 2) |")
        lines.append("|---|" + "---|" * (len(cols) + 1))
    largest = groups.group_by("group").len()["len"].max() if groups.height else 0
    lines.append(f"| {n} | " + " | ".join(row[c] for c in cols) + f" | {sec} |")
    print(n, "largest group", largest, "|", meta["note"], file=sys.stderr)
(Path(os.environ.get("WORK", "/tmp/sbs")) / "table.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
