import os
import shutil
import time

os.environ.setdefault("SENTRY_OPT_OUT", "1")
import fastdup

from benches.studies.dup_sidebyside import common

work = os.path.join(os.environ.get("WORK", "/tmp/sbs"), "fastdup_work")
shutil.rmtree(work, ignore_errors=True)
t0 = time.perf_counter()
fd = fastdup.create(work_dir=work, input_dir=str(common.IMGS))
fd.run(overwrite=True)
t_run = time.perf_counter() - t0
cc, _ = fd.connected_components()
print(cc.columns.tolist())
print(cc.head())
col = "filename" if "filename" in cc.columns else cc.columns[0]
groups = [g[col].tolist() for _, g in cc.groupby("component_id")]
groups = [g for g in groups if len(g) > 1]
common.save(
    "fastdup components (cc 0.96)",
    groups,
    time.perf_counter() - t0,
    note="connected_components() with default ccthreshold 0.96",
)
sim = fd.similarity()
print(sim.columns.tolist())
print(sim.head())
print(sim["distance"].describe())
for thr in (0.9,):
    s = sim[sim["distance"] >= thr]
    groups = common.components(list(zip(s["filename_from"], s["filename_to"])))
    common.save(
        f"fastdup similarity >={thr}", groups, t_run, note=f"similarity pairs (default threshold {thr}) -> components"
    )
