"""The distributed near-duplicate join at scale, simulated on real-like pHashes (no Ray).

    python -m benches.studies.join_simulation [N] [--real R] [--cache FILE] [--no-time]
    # defaults: N = 10_000_000, R = 40_000 real hashes. About 10 min of CPU (2 min of it making the
    # real hashes, skipped with --cache on reruns); peak RSS ~3 GB at N = 10M.

1. Real pHashes: R random crops (10-100% of each side, any position, long side 128-384 px, 5% gray,
   JPEG q60-95) of the 20 photographs of `recipe_audit.examples.photo_sources` (the 18 of
   scikit-image's that load offline, scikit-learn's 2; `skimage.data.cat` is `chelsea` again and the
   others are drawings or tiny), encoded with Pillow and hashed by `recipe_audit.scan_bytes`.
2. Models of n "real-like" hashes fitted to them:
   - ``uniform``: 64 fair independent bits (what `blockjoin.choose_layout`'s cost model assumes);
   - ``blocks``: each block of the layout drawn independently from that block's empirical value
     distribution over the distinct real hashes. Bucket sizes, hot keys, candidate counts and the
     shuffle depend only on these per-block distributions, so this model reproduces them (for this
     corpus); it loses every correlation across blocks (pHash's popcount of exactly 32, near copies),
     which decide how hard a bucket is to search and how much chains;
   - ``resample s=k``: a whole real hash with k random swaps (a set bit cleared and a clear bit set,
     constant bits kept), so popcount and most correlations survive; each real hash becomes a family
     of n / R hashes within 2k bits of it, the opposite extreme (near copies everywhere).
   Section (a) compares them with held-out photographs (fitted on the even-numbered sources,
   compared with the odd-numbered ones), and shows how the skew falls as photographs are added.
3. Section (b), for `choose_layout(n, 10)` at n = 1M, 3M and N: keys, shuffle bytes (key u64 + hash
   u64 + id u32 a row, as `tasks.emit_partitions` ships them), buckets, bucket sizes,
   candidate pairs (sum n(n-1)/2 over buckets: pairwise verification's cost; the Rust search checks
   far fewer), hot buckets (> 2 * chunk_size, salted into c(c+1)/2 tiles of c = ceil(size /
   chunk_size) chunks) for several chunk sizes, rows per reduce partition, and 100M by scaling every
   bucket with n (checked from 1M to N). Keys come from `blockjoin.emit_keys`, 1M hashes at a time.
   Then the join's whole search in core-seconds (every bucket through `hamming_forest_in_buckets` on
   one thread at 1M; at larger n a random sample of buckets per block, scaled up), extrapolated to
   100M, against `hamming_groups` on all the hashes at once (one machine's search).
4. Section (c), one thread (RAYON_NUM_THREADS=1, as a one-CPU Ray task): `hamming_groups` on the
   largest bucket of each model (and on as many hashes not sharing a block); buckets of the size
   they reach at 100M (uniform and blocks models: drawn with the block fixed) and one hot tile; one
   map task (`tasks.emit_partitions`, 1M hashes) and one reduce task
   (`tasks.search_partition`, the largest default partition) in a fresh process each, with
   their peak RSS. Times are CPU seconds of this process (the machine is shared).

Prints markdown tables (BENCHMARKS.md, docs/scale.md).
"""

from __future__ import annotations

import io
import os

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # per-core timings: before the core's pool starts

import json
import subprocess
import sys
import tempfile
import time
from math import ceil
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from recipe_audit import _core
from recipe_audit.dedup import blockjoin

RADIUS = 10
CHUNK_SIZES = (1_000_000, 500_000, 250_000, 100_000)
TARGET_N = 100_000_000
TARGET_CPUS = 160  # partitions at 100M: the join's default for a cluster of this many CPUs
ROW_BYTES = 8 + 8 + 4  # key, hash, id per shuffled row
SWAPS = (2, 3, 4, 8)  # resample model: swaps (2 bit flips each) per hash, compared in (a)
MAIN_SWAPS = 3  # the one closest to the held-out photos' background (a)
SAMPLED_BUCKETS = 6  # per block, for the search estimate above 1M hashes


# ----------------------------------------------------------------------------------------------
# real hashes


def _sources() -> list[tuple[str, np.ndarray]]:
    from recipe_audit import examples

    return list(examples.photo_sources())


_SRC: list | None = None


def _crop_hashes(job: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """`n` random crops, re-encoded and scanned: (phash, source index) of the ok ones."""
    from PIL import Image

    import recipe_audit

    global _SRC
    if _SRC is None:
        _SRC = _sources()
    seed, n = job
    rng = np.random.default_rng(seed)
    names, blobs, src = [], [], []
    for i in range(n):
        s = int(rng.integers(len(_SRC)))
        arr = _SRC[s][1]
        h, w = arr.shape[:2]
        f = rng.uniform(0.1, 1.0)
        ch = min(h, max(16, int(h * f * rng.uniform(0.7, 1.0))))
        cw = min(w, max(16, int(w * f * rng.uniform(0.7, 1.0))))
        y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        im = Image.fromarray(arr[y0 : y0 + ch, x0 : x0 + cw]).convert("L" if rng.random() < 0.05 else "RGB")
        scale = int(rng.integers(128, 385)) / max(ch, cw)
        im = im.resize(
            (max(1, round(cw * scale)), max(1, round(ch * scale))), Image.Resampling.LANCZOS, reducing_gap=3.0
        )
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=int(rng.integers(60, 96)))
        names.append(f"{seed}_{i}.jpg")
        blobs.append(buf.getvalue())
        src.append(s)
    frame = recipe_audit.scan_bytes(names, blobs, threads=1)
    ok = (frame["status"] == "ok").to_numpy()
    return frame["phash"].to_numpy()[ok], np.array(src, dtype=np.int16)[ok]


def real_hashes(count: int, cache: str | None) -> tuple[np.ndarray, np.ndarray, list[str], float]:
    if cache and Path(cache).exists():
        data = np.load(cache, allow_pickle=False)
        if len(data["phash"]) >= count:
            return data["phash"][:count], data["source"][:count], list(data["names"]), float(data["seconds"])
    t = time.perf_counter()
    per_job = 500
    jobs = [(1000 + k, min(per_job, count - k * per_job)) for k in range(ceil(count / per_job))]
    with get_context("fork").Pool(2) as pool:
        parts = pool.map(_crop_hashes, jobs, chunksize=1)
    seconds = time.perf_counter() - t
    phash = np.concatenate([p[0] for p in parts])
    source = np.concatenate([p[1] for p in parts])
    names = [name for name, _ in _sources()]
    if cache:
        np.savez(cache, phash=phash, source=source, names=np.array(names), seconds=seconds)
    return phash, source, names, seconds


# ----------------------------------------------------------------------------------------------
# models


def block_values(hashes: np.ndarray, layout: blockjoin.BlockLayout) -> list[np.ndarray]:
    return [
        ((hashes >> np.uint64(s)) & np.uint64((1 << w) - 1)).astype(np.int64)
        for s, w in zip(layout.shifts, layout.widths)
    ]


def _distinct(hashes: np.ndarray, parents: np.ndarray | None, labels: bool):
    """Sorted distinct hashes (the join collapses identical ones first), with a parent label each."""
    if not labels:
        return np.unique(hashes)
    hashes, first = np.unique(hashes, return_index=True)
    return hashes, None if parents is None else parents[first]


class UniformModel:
    name = "uniform"

    def sample(self, n: int, rng: np.random.Generator, labels: bool = False):
        return _distinct(rng.integers(0, np.iinfo(np.uint64).max, size=n, dtype=np.uint64, endpoint=True), None, labels)

    def sample_bucket(self, n: int, layout: blockjoin.BlockLayout, block: int, value: int, rng: np.random.Generator):
        """`n` hashes of the bucket (block, value): the other blocks drawn as usual."""
        shift, width = layout.shifts[block], layout.widths[block]
        mask = np.uint64(((1 << width) - 1) << shift)
        h = rng.integers(0, np.iinfo(np.uint64).max, size=n, dtype=np.uint64, endpoint=True)
        return np.unique((h & ~mask) | np.uint64(value << shift))


class BlocksModel:
    """Each block drawn independently from its empirical distribution over `real`."""

    name = "blocks"

    def __init__(self, real: np.ndarray, layout: blockjoin.BlockLayout) -> None:
        self.layout = layout
        self.probs = [
            np.bincount(v, minlength=1 << w) / len(v) for v, w in zip(block_values(real, layout), layout.widths)
        ]

    def sample(self, n: int, rng: np.random.Generator, labels: bool = False):
        out = np.zeros(n, np.uint64)
        for p, s in zip(self.probs, self.layout.shifts):
            out |= rng.choice(len(p), size=n, p=p).astype(np.uint64) << np.uint64(s)
        return _distinct(out, None, labels)

    def sample_bucket(self, n: int, layout: blockjoin.BlockLayout, block: int, value: int, rng: np.random.Generator):
        out = np.zeros(n, np.uint64)
        for b, (p, s) in enumerate(zip(self.probs, self.layout.shifts)):
            v = np.full(n, value) if b == block else rng.choice(len(p), size=n, p=p)
            out |= v.astype(np.uint64) << np.uint64(s)
        return np.unique(out)


class ResampleModel:
    """A random real hash with `swaps` (set bit -> 0, clear bit -> 1) pairs, constant bits kept."""

    def __init__(self, real: np.ndarray, swaps: int) -> None:
        self.real = real
        self.swaps = swaps
        self.name = f"resample s={swaps}"
        mean = ((real[:, None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)).mean(0)
        self.free = np.flatnonzero((mean > 0) & (mean < 1)).astype(np.uint64)

    def sample(self, n: int, rng: np.random.Generator, labels: bool = False, batch: int = 250_000):
        out = np.empty(n, np.uint64)
        parents = rng.integers(0, len(self.real), n)
        k, f = self.swaps, len(self.free)
        for start in range(0, n, batch):
            h = self.real[parents[start : start + batch]]
            bits = ((h[:, None] >> self.free) & np.uint64(1)).astype(np.float32)
            # random ranks: clear bits rank above every set bit, so the k smallest are set bits
            # (cleared) and the k largest are clear bits (set); every bit here has both values
            order = np.argpartition(rng.random(bits.shape, dtype=np.float32) + 2 * (1 - bits), (k - 1, f - k), axis=1)
            pick = np.concatenate((order[:, :k], order[:, f - k :]), axis=1)
            out[start : start + len(h)] = h ^ np.bitwise_or.reduce(np.uint64(1) << self.free[pick], axis=1)
        return _distinct(out, parents, labels)


# ----------------------------------------------------------------------------------------------
# buckets and searches


def popcount(x: np.ndarray) -> np.ndarray:
    return np.bitwise_count(x)


def cpu_timed(fn, *args):
    """(result, CPU seconds of this process): core-seconds, not disturbed by a busy machine."""
    t = time.process_time()
    out = fn(*args)
    return out, time.process_time() - t


def bucket_sizes(
    hashes: np.ndarray, layout: blockjoin.BlockLayout, batch: int = 1_000_000
) -> tuple[np.ndarray, np.ndarray]:
    """(keys, sizes) of every bucket, from `blockjoin.emit_keys` a million hashes at a time."""
    counts: dict[int, int] = {}
    for start in range(0, len(hashes), batch):
        keys, n = np.unique(blockjoin.emit_keys(hashes[start : start + batch], layout), return_counts=True)
        for k, c in zip(keys.tolist(), n.tolist()):
            counts[k] = counts.get(k, 0) + c
    keys = np.array(sorted(counts), dtype=np.uint64)
    return keys, np.array([counts[k] for k in keys.tolist()], dtype=np.int64)


def join_stats(n: int, keys: np.ndarray, sizes: np.ndarray, cpus: int = 16) -> dict:
    s = sizes.astype(np.float64)
    out = {
        "n": n,
        "keys": int(sizes.sum()),
        "shuffle_gb": sizes.sum() * ROW_BYTES / 1e9,
        "buckets": len(sizes),
        "median": float(np.median(s)),
        "p99": float(np.percentile(s, 99)),
        "max": int(s.max()),
        "candidates": float((s * (s - 1) / 2).sum()),
    }
    for c in CHUNK_SIZES:
        hot = s > 2 * c
        chunks = np.ceil(s[hot] / c)
        out[f"hot_{c}"] = int(hot.sum())
        out[f"tiles_{c}"] = int((chunks * (chunks + 1) / 2).sum())
        out[f"hot_hashes_{c}"] = int(s[hot].sum())
        out[f"cold_candidates_{c}"] = float((s[~hot] * (s[~hot] - 1) / 2).sum())
    parts = blockjoin.default_partitions(int(sizes.sum()), cpus)
    load = np.bincount(blockjoin.partition_of(keys, parts), weights=s, minlength=parts)
    out.update(
        partitions=parts,
        part_mean=float(load.mean()),
        part_max=float(load.max()),
        part_cold_max=float(
            np.bincount(blockjoin.partition_of(keys, parts), weights=np.where(s > 2e6, 0, s), minlength=parts).max()
        ),
    )
    return out


def search_cost(
    hashes: np.ndarray, layout: blockjoin.BlockLayout, rng: np.random.Generator, per_block: int | None
) -> float:
    """Core-seconds of the join's whole search: each block's buckets through
    `hamming_forest_in_buckets` (what reduce tasks run), all of them or `per_block` random ones per
    block scaled by the block's bucket count."""
    total = 0.0
    ids = np.arange(len(hashes), dtype=np.uint32)
    for v, w in zip(block_values(hashes, layout), layout.widths):
        present = np.flatnonzero(np.bincount(v, minlength=1 << w))
        chosen = (
            present if per_block is None or per_block >= len(present) else rng.choice(present, per_block, replace=False)
        )
        rows = np.flatnonzero(np.isin(v, chosen))
        rows = rows[np.argsort(v[rows], kind="stable")]
        offsets = np.concatenate(([0], np.cumsum(np.bincount(v[rows], minlength=1 << w)))).astype(np.uint64)
        _, sec = cpu_timed(_core.hamming_forest_in_buckets, hashes[rows], ids[rows], offsets, RADIUS)
        total += sec * len(present) / len(chosen)
    return total


def fmt(x: float) -> str:
    if x >= 1e6:
        return f"{x:.2e}"
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def pair_distances(h: np.ndarray, rng: np.random.Generator, pairs: int, label: np.ndarray | None) -> np.ndarray:
    i, j = rng.integers(0, len(h), pairs), rng.integers(0, len(h), pairs)
    keep = i != j if label is None else label[i] != label[j]
    return popcount(h[i[keep]] ^ h[j[keep]]).astype(np.int64)


def block_skew(h: np.ndarray, layout: blockjoin.BlockLayout) -> tuple[float, float]:
    coll, share = [], 0.0
    for v, w in zip(block_values(h, layout), layout.widths):
        p = np.bincount(v, minlength=1 << w) / len(v)
        coll.append((p * p).sum())
        share = max(share, p.max())
    return float(np.mean(coll)), share


# One task in a fresh process: RSS growth over the loaded inputs (VmHWM after clear_refs).
TASK_PROBE = """
import json, sys, time
import numpy as np
from recipe_audit.dedup import blockjoin
from recipe_audit.distributed import tasks
def kb(field):
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith(field + ":"))
data = np.load(sys.argv[1])
args = [np.ascontiguousarray(data[k]) for k in ("a", "b", "c") if k in data]
kind, layout = sys.argv[2], blockjoin.choose_layout(int(sys.argv[3]), 10)
base = kb("VmRSS")
open("/proc/self/clear_refs", "w").write("5")
t = time.process_time()
if kind == "map":
    out = tasks.emit_partitions(args[0], 0, layout, int(sys.argv[4]))
    info = {}
else:
    out = next(tasks.search_partition(10, 1_000_000, tuple(args)))
    info = {"buckets": out["buckets"], "largest": out["largest"]}
print(json.dumps({"cpu_s": time.process_time() - t, "peak_mb": (kb("VmHWM") - base) / 1024, **info}))
"""


def run_task(arrays: dict[str, np.ndarray], kind: str, n: int, partitions: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "task.npz")
        np.savez(path, **arrays)
        out = subprocess.run(
            [sys.executable, "-c", TASK_PROBE, path, kind, str(n), str(partitions)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "RAYON_NUM_THREADS": "1"},
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------------------------


def main(n: int, n_real: int, cache: str | None, time_search: bool) -> None:
    rng = np.random.default_rng(20261202)
    t0 = time.perf_counter()

    def progress(what: str) -> None:
        print(f"[{time.perf_counter() - t0:.0f} s] {what}", file=sys.stderr, flush=True)

    real, source, names, real_s = real_hashes(n_real, cache)
    distinct = np.unique(real)
    bits = ((distinct[:, None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)).mean(0)
    free = bits[(bits > 0) & (bits < 1)]
    print(
        f"## Real pHashes\n\n{len(real):,} crops of {len(names)} photographs ({', '.join(names)}) hashed in "
        f"{real_s:.0f} s (crop, Lanczos resize, JPEG encode, scan_bytes; 2 processes); {len(distinct):,} "
        f"distinct. popcount of every hash: {np.unique(popcount(distinct)).tolist()}; bits always 1: "
        f"{np.flatnonzero(bits == 1).tolist()}, always 0: {np.flatnonzero(bits == 0).tolist()}; every other bit "
        f"is set in {free.min():.2f}-{free.max():.2f} of the hashes.\n"
    )
    progress("real hashes")

    layout = blockjoin.choose_layout(n, RADIUS)
    for size in (1_000_000, n, TARGET_N):
        assert blockjoin.choose_layout(size, RADIUS) == layout, "the layout changes with n: simulate each"
    print(
        f"`choose_layout(n, {RADIUS})` at 1M, {n:,} and 100M: {layout.describe()} (widths {layout.widths}, "
        f"low bits first), {layout.keys_per_hash} keys a hash.\n"
    )

    # (a) the models against held-out photographs ---------------------------------------------
    keep = np.unique(real, return_index=True)[1]
    h_all, src_all = real[keep], source[keep].astype(np.int64)
    train = h_all[src_all % 2 == 0]
    test, test_src = h_all[src_all % 2 == 1], src_all[src_all % 2 == 1]
    print("## (a) Models against held-out photographs\n")
    print(
        f"Fitted on the {len(train):,} distinct hashes of the even-numbered photos, compared with the "
        f"{len(test):,} of the odd-numbered ones (as many drawn from each model). `block collision`: sum p^2 "
        "over a block's values, mean over blocks (uniform: 0.0185 for this layout); `max share`: the most "
        "common value of any block; distance: random pairs; P(d <= r): every pair within r counted exactly "
        "(`hamming_pairs`) over all pairs, leaving out pairs of one photo (real) or one parent (resample): "
        "the background between unrelated images; `near`: share of hashes with another within 10 bits "
        "(same photo or parent included).\n"
    )
    print(
        "| hashes | block collision | max share | distance mean | sd | P(d <= 6) | P(d <= 10) | P(d <= 16) | near (<= 10) | popcount 32 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")

    def fidelity(name: str, h: np.ndarray, label: np.ndarray | None) -> None:
        coll, share = block_skew(h, layout)
        d = pair_distances(h, rng, 2_000_000, label)
        i, j, dist = _core.hamming_pairs(np.ascontiguousarray(h), 16)
        if label is None:
            apart, total = np.ones(len(i), bool), len(h) * (len(h) - 1) / 2
        else:
            counts = np.bincount(label).astype(np.float64)
            apart, total = label[i] != label[j], (len(h) ** 2 - (counts**2).sum()) / 2
        tail = [((dist <= r) & apart).sum() / total for r in (6, 10, 16)]
        roots = _core.hamming_groups(np.ascontiguousarray(h), RADIUS)
        near = (np.bincount(roots, minlength=len(h))[roots] > 1).mean()
        print(
            f"| {name} | {coll:.4f} | {share:.3f} | {d.mean():.1f} | {d.std():.2f} | {tail[0]:.1e} | "
            f"{tail[1]:.1e} | {tail[2]:.1e} | {near:.3f} | {(popcount(h) == 32).mean():.2f} |"
        )

    fidelity("real, held-out photos", test, test_src)
    for model in [UniformModel(), BlocksModel(train, layout)] + [ResampleModel(train, s) for s in SWAPS]:
        h, label = model.sample(len(test), rng, labels=True)
        fidelity(model.name, h, label)
    i, j, dist = _core.hamming_pairs(np.ascontiguousarray(h_all), 16)
    counts = np.bincount(src_all).astype(np.float64)
    total = (len(h_all) ** 2 - (counts**2).sum()) / 2
    apart = src_all[i] != src_all[j]
    print(
        f"\nThe background: pairs of crops of different photographs within r bits, all {len(h_all):,} real "
        f"hashes ({total:.2e} such pairs), and what that rate means among {TARGET_N:,} unrelated images "
        "(pairs = N^2/2 x P; mean degree = N x P; above 1 a giant group forms):\n"
    )
    print("| r | pairs | P(d <= r) | pairs at 100M | mean degree at 100M |")
    print("|---|---|---|---|---|")
    for r in (0, 2, 4, 6, 8, 10, 12):
        k = int(((dist <= r) & apart).sum())
        p = k / total
        print(f"| {r} | {k:,} | {p:.1e} | {p * TARGET_N**2 / 2:.1e} | {p * TARGET_N:,.1f} |")
    print(
        "\nSkew against the number of photographs behind the distribution (distinct hashes of the first k "
        "photos of a random order):\n"
    )
    print("| photos | hashes | block collision | max share |")
    print("|---|---|---|---|")
    order = rng.permutation(len(names))
    for k in (2, 5, 10, len(names)):
        h = np.unique(real[np.isin(source, order[:k])])
        coll, share = block_skew(h, layout)
        print(f"| {k} | {len(h):,} | {coll:.4f} | {share:.3f} |")
    print()
    progress("(a)")

    # (b) buckets and the whole search --------------------------------------------------------
    models = [UniformModel(), BlocksModel(distinct, layout), ResampleModel(distinct, MAIN_SWAPS)]
    sizes_n = [s for s in (1_000_000, 3_000_000) if s < n] + [n]
    rows, kept = [], {}
    for model in models:
        for size in sizes_n:
            hashes = model.sample(size, rng)  # distinct: the join collapses identical hashes first
            keys, sizes = bucket_sizes(hashes, layout)
            st = join_stats(len(hashes), keys, sizes)
            st["model"], st["drawn"] = model.name, size
            if time_search:
                st["search_s"] = search_cost(hashes, layout, rng, None if size <= 1_000_000 else SAMPLED_BUCKETS)
                if size <= 1_000_000:
                    st["search_sampled_s"] = search_cost(hashes, layout, rng, SAMPLED_BUCKETS)
                if size <= 3_000_000:
                    roots, st["groups_s"] = cpu_timed(_core.hamming_groups, hashes, RADIUS)
                    g = np.bincount(roots, minlength=len(hashes))
                    st["grouped"], st["largest_group"] = float((g[roots] > 1).mean()), int(g.max())
                    del roots, g
            rows.append(st)
            if size == n:
                kept[model.name] = (hashes, keys, sizes, st)
            del hashes
            progress(f"{model.name} {size:,}")
    for model in models:
        hashes, keys, sizes, st = kept[model.name]
        rows.append(
            {
                **join_stats(TARGET_N, keys, np.round(sizes * (TARGET_N / st["n"])).astype(np.int64), TARGET_CPUS),
                "model": model.name + " (scaled)",
                "drawn": TARGET_N,
            }
        )

    print(f"## (b) Buckets of `choose_layout(n, {RADIUS})` ({layout.describe()})\n")
    print(
        f"Shuffle = rows x {ROW_BYTES} B (key u64, hash u64, id u32). Candidates = sum n(n-1)/2 over buckets. "
        f"Partitions: the join's default, max(2 x CPUs, keys / 8M), for 16 CPUs ({TARGET_CPUS} at 100M); "
        "rows per partition: mean and max by `partition_of`. 100M: every bucket of the largest size scaled "
        "by 100M / n (a bucket holds a fixed share of the hashes: see the scaling table).\n"
    )
    print(
        "| model | distinct hashes | keys | shuffle GB | buckets | median | p99 | max bucket | candidates | partitions | rows/partition mean / max |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['model']} | {fmt(r['n'])} | {fmt(r['keys'])} | {r['shuffle_gb']:.2f} | {r['buckets']} | {fmt(r['median'])} | "
            f"{fmt(r['p99'])} | {fmt(r['max'])} | {r['candidates']:.2e} | {r['partitions']} | "
            f"{fmt(r['part_mean'])} / {fmt(r['part_max'])} |"
        )
    print(
        "\nHot buckets (> 2 x chunk_size hashes), the tiles they are salted into (c(c+1)/2 each, c = "
        "ceil(size / chunk_size)) and the hashes they hold (each reduce task returns its hot buckets' "
        "hashes and ids to the driver, which cuts the tiles and sends them out again):\n"
    )
    print(
        "| model | distinct hashes | "
        + " | ".join(f"chunk {c // 1000}k: hot / tiles / hashes" for c in CHUNK_SIZES)
        + " |"
    )
    print("|---|---|" + "---|" * len(CHUNK_SIZES))
    for r in rows:
        print(
            f"| {r['model']} | {fmt(r['n'])} | "
            + " | ".join(f"{r[f'hot_{c}']} / {r[f'tiles_{c}']:,} / {fmt(r[f'hot_hashes_{c}'])}" for c in CHUNK_SIZES)
            + " |"
        )
    if len(sizes_n) > 1:
        print(
            f"\nScaling, {fmt(sizes_n[-1])} over {fmt(sizes_n[0])} (linear = {sizes_n[-1] / sizes_n[0]:.1f}x, "
            f"quadratic = {(sizes_n[-1] / sizes_n[0]) ** 2:.0f}x):\n"
        )
        print("| model | keys | buckets | median bucket | max bucket | candidates |")
        print("|---|---|---|---|---|---|")
        for model in models:
            lo = next(r for r in rows if r["model"] == model.name and r["drawn"] == sizes_n[0])
            hi = next(r for r in rows if r["model"] == model.name and r["drawn"] == sizes_n[-1])
            print(
                f"| {model.name} | {hi['keys'] / lo['keys']:.2f}x | {hi['buckets'] / lo['buckets']:.2f}x | "
                f"{hi['median'] / lo['median']:.2f}x | {hi['max'] / lo['max']:.2f}x | {hi['candidates'] / lo['candidates']:.1f}x |"
            )

    hashes, keys, sizes, st = kept["blocks"]
    print(
        f"\nPer block, blocks model at {fmt(st['n'])} (largest bucket as a share of the hashes; uniform: "
        "1/64 = 0.016 for 6 bits, 1/32 = 0.031 for 5 bits):\n"
    )
    print("| block | bits | values used | largest share | sum n(n-1)/2 |")
    print("|---|---|---|---|---|")
    blocks_of = (keys >> np.uint64(32)).astype(np.int64)
    for b, (sh, w) in enumerate(zip(layout.shifts, layout.widths)):
        s = sizes[blocks_of == b].astype(np.float64)
        print(
            f"| {b} | {sh}-{sh + w - 1} | {len(s)} / {1 << w} | {s.max() / st['n']:.3f} | {(s * (s - 1) / 2).sum():.2e} |"
        )
    print()
    if not time_search:
        return

    print(
        f"The join's whole search in core-seconds (every bucket through `hamming_forest_in_buckets` on one "
        f"thread at 1M; above, {SAMPLED_BUCKETS} random buckets per block scaled by the block's bucket count; "
        f"at 1M the sampled estimate is in parentheses), against `hamming_groups` on all the hashes at once "
        "(one machine's search, one thread), with the groups that finds. 100M: the largest size's estimate "
        "x (100M / n)^e, e fitted between the two largest sizes.\n"
    )
    print(
        "| model | distinct hashes | join search core-s | e | one-machine search core-s | in a group | largest group |"
    )
    print("|---|---|---|---|---|---|---|")
    extrapolated = {}
    for model in models:
        mine = [r for r in rows if r["model"] == model.name]
        for k, r in enumerate(mine):
            e = (
                ""
                if k == 0
                else f"{np.log(r['search_s'] / mine[k - 1]['search_s']) / np.log(r['n'] / mine[k - 1]['n']):.2f}"
            )
            sampled = f" ({r['search_sampled_s']:.1f})" if "search_sampled_s" in r else ""
            single = (
                f"{r['groups_s']:.1f} | {r['grouped']:.3f} | {r['largest_group']:,}"
                if "groups_s" in r
                else "not run | | "
            )
            print(f"| {model.name} | {fmt(r['n'])} | {r['search_s']:.1f}{sampled} | {e} | {single} |")
        if len(mine) > 1:
            lo, hi = mine[-2], mine[-1]
            e = np.log(hi["search_s"] / lo["search_s"]) / np.log(hi["n"] / lo["n"])
            est = hi["search_s"] * (TARGET_N / hi["n"]) ** e
            extrapolated[model.name] = est
            print(f"| {model.name} | 1.00e+08 (extrapolated) | {est:,.0f} = {est / 3600:.1f} core-h | {e:.2f} | | | |")
    print()
    progress("(b)")

    # (c) buckets, tiles and tasks ------------------------------------------------------------
    print(
        f"## (c) Buckets, tiles and tasks, one thread (RAYON_NUM_THREADS={os.environ['RAYON_NUM_THREADS']}), CPU seconds\n"
    )
    print(
        f"`hamming_groups` on the largest bucket of each model at {fmt(st['n'])} hashes and, as a control, "
        "on as many of the model's hashes drawn without a shared block; then buckets of the sizes they reach "
        "at 100M: the median bucket, and two tiles of the largest (hot) bucket: one 1M chunk by itself "
        "(`hamming_groups`) and two chunks against each other (`hamming_forest_across`), as the salted "
        "tile tasks run them. Drawn with the block fixed, so only for the models without cross-block "
        "correlation.\n"
    )
    print(
        "| model | n | bucket (block, value) | hashes | search s | s per 1M hashes | groups | largest group | control s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for model in models:
        hashes, keys, sizes, st = kept[model.name]
        top = int(np.argmax(sizes))
        block, value = blockjoin.key_block_value(int(keys[top]))
        sh, w = layout.shifts[block], layout.widths[block]
        members = hashes[((hashes >> np.uint64(sh)) & np.uint64((1 << w) - 1)) == np.uint64(value)]
        roots, sec = cpu_timed(_core.hamming_groups, members, RADIUS)
        g = np.bincount(roots)
        control = np.sort(rng.choice(hashes, len(members), replace=False))
        _, csec = cpu_timed(_core.hamming_groups, control, RADIUS)
        print(
            f"| {model.name} | {fmt(st['n'])} | ({block}, {value}) | {fmt(len(members))} | {sec:.2f} | "
            f"{sec / len(members) * 1e6:.2f} | {int((g > 0).sum()):,} | {int(g.max()):,} | {csec:.2f} |"
        )
        del members, control, roots, g
        if not hasattr(model, "sample_bucket"):
            continue
        scale = TARGET_N / st["n"]
        median_key = int(keys[np.argsort(sizes)[len(sizes) // 2]])
        block, value = blockjoin.key_block_value(median_key)
        size = int(round(sizes[np.searchsorted(keys, np.uint64(median_key))] * scale))
        bucket = model.sample_bucket(size, layout, block, value, rng)
        roots, sec = cpu_timed(_core.hamming_groups, bucket, RADIUS)
        g = np.bincount(roots)
        print(
            f"| {model.name} | 100M (median bucket) | ({block}, {value}) | {fmt(len(bucket))} | {sec:.2f} | "
            f"{sec / len(bucket) * 1e6:.2f} | {int((g > 0).sum()):,} | {int(g.max()):,} | |"
        )
        del roots, g, bucket
        # the largest bucket is hot at 100M: two chunks of it, searched as the salted tiles are
        block, value = blockjoin.key_block_value(int(keys[top]))
        size = int(round(sizes[top] * scale))
        bucket = rng.permutation(model.sample_bucket(2_000_000, layout, block, value, rng))
        a, b = np.sort(bucket[:1_000_000]), np.sort(bucket[1_000_000:])
        roots, sec = cpu_timed(_core.hamming_groups, a, RADIUS)
        g = np.bincount(roots)
        print(
            f"| {model.name} | 100M (largest bucket, {fmt(size)}: tile within a 1M chunk) | ({block}, {value}) | "
            f"{fmt(len(a))} | {sec:.2f} | {sec / len(a) * 1e6:.2f} | {int((g > 0).sum()):,} | {int(g.max()):,} | |"
        )
        _, sec = cpu_timed(_core.hamming_forest_across, a, b, RADIUS)
        print(
            f"| {model.name} | 100M (largest bucket: tile across two chunks) | ({block}, {value}) | 1M x 1M | "
            f"{sec:.2f} | {sec / 2:.2f} | | | |"
        )
        del a, b, bucket, roots, g
        progress(f"(c) {model.name}")
    print()

    print(
        "One map task (`_emit_partitions`: 1M hashes, the default partitions) and one reduce task "
        "(`_search_partition`: the rows of the largest default partition at this size), each in a fresh "
        "process; peak = VmHWM growth over the loaded inputs.\n"
    )
    print("| task | model | n | rows | CPU s | peak MB | bytes / row |")
    print("|---|---|---|---|---|---|---|")
    for name in ("blocks", models[2].name):
        hashes, keys, sizes, st = kept[name]
        parts = st["partitions"]
        res = run_task({"a": hashes[:1_000_000]}, "map", st["n"], parts)
        rows_in = 1_000_000 * layout.keys_per_hash
        print(
            f"| map | {name} | {fmt(st['n'])} | {fmt(rows_in)} | {res['cpu_s']:.2f} | {res['peak_mb']:.0f} | "
            f"{res['peak_mb'] * 2**20 / rows_in:.0f} |"
        )
        j = int(np.argmax(np.bincount(blockjoin.partition_of(keys, parts), weights=sizes, minlength=parts)))
        cols: list[list[np.ndarray]] = [[], [], []]
        ids = np.arange(len(hashes), dtype=np.uint32)
        for block, (sh, w) in enumerate(zip(layout.shifts, layout.widths)):
            k = ((hashes >> np.uint64(sh)) & np.uint64((1 << w) - 1)) | np.uint64(block << 32)
            mine = blockjoin.partition_of(k, parts) == j
            for col, arr in zip(cols, (k, hashes, ids)):
                col.append(arr[mine])
        arrays = dict(zip("abc", (np.concatenate(c) for c in cols)))
        res = run_task(arrays, "reduce", st["n"], parts)
        rows_j = len(arrays["a"])
        print(
            f"| reduce ({res['buckets']} buckets, largest {fmt(res['largest'])}) | {name} | {fmt(st['n'])} | "
            f"{fmt(rows_j)} | {res['cpu_s']:.2f} | {res['peak_mb']:.0f} | {res['peak_mb'] * 2**20 / rows_j:.0f} |"
        )
        del arrays, cols
        progress(f"tasks {name}")
    with open("/proc/self/status") as f:
        hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
    print(
        f"\nThis run: {time.perf_counter() - t0:.0f} s wall, {time.process_time():.0f} s CPU, peak RSS {hwm:,.0f} MB, "
        f"load average {os.getloadavg()[0]:.1f}."
    )


if __name__ == "__main__":
    args = sys.argv[1:]
    cache, n_real = None, 40_000
    time_search = "--no-time" not in args
    args = [a for a in args if a != "--no-time"]
    for flag in ("--cache", "--real"):
        if flag in args:
            i = args.index(flag)
            if flag == "--cache":
                cache = args[i + 1]
            else:
                n_real = int(args[i + 1])
            del args[i : i + 2]
    main(int(float(args[0])) if args else 10_000_000, n_real, cache, time_search)
