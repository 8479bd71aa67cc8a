"""Shared helpers: the held-out photo file list, a copy folder, groups -> parquet."""

import json
import os
import shutil
from pathlib import Path

import polars as pl

CORPUS = os.environ.get("CORPUS", "/tmp/dh19")
WORK = os.environ.get("WORK", "/tmp/sbs")
TABLE = f"{CORPUS}/table.parquet"
IMGS = Path(WORK) / "imgs"
OUT = Path(os.environ.get("SBS_OUT", f"{WORK}/groups"))


def heldout_table():
    t = pl.read_parquet(TABLE)
    return t.filter((pl.col("half") == "heldout") & (pl.col("source_kind") == "photo"))


def paths():
    return heldout_table()["path"].to_list()


def make_dir():
    """Copy the held-out photo files into one flat folder (names are unique: row id + edit)."""
    if IMGS.exists():
        shutil.rmtree(IMGS)
    IMGS.mkdir(parents=True)
    for p in paths():
        shutil.copy2(p, IMGS / Path(p).name)


def to_original(name):
    return str(Path(CORPUS) / "corpus" / "heldout" / Path(name).name)


def components(pairs, nodes=()):
    parent = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for n in nodes:
        find(n)
    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
    comps = {}
    for n in list(parent):
        comps.setdefault(find(n), []).append(n)
    return [sorted(c) for c in comps.values() if len(c) > 1]


def save(name, groups, seconds, note=""):
    """groups: list of lists of paths (any form; mapped back to /tmp/dh19 paths)."""
    rows = [(to_original(p), i) for i, g in enumerate(groups) for p in g]
    OUT.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(rows, schema=["path", "group"], orient="row").write_parquet(OUT / f"{name}.parquet")
    (OUT / f"{name}.json").write_text(json.dumps({"seconds": seconds, "note": note, "groups": len(groups)}))
    print(f"{name}: {len(groups)} groups, {len(rows)} files, {seconds:.1f} s")
