import time

import recipe_audit

from benches.studies.dup_sidebyside import common

ps = common.paths()
t0 = time.perf_counter()
files = recipe_audit.scan(ps, progress=False)
t_scan = time.perf_counter() - t0
for name, opts in (("recipe_audit default", {}), ("recipe_audit crops=False", {"crops": False})):
    t1 = time.perf_counter()
    g = recipe_audit.find_duplicates(files, **opts)
    t_find = time.perf_counter() - t1
    groups = [grp["path"].to_list() for _, grp in g.group_by("group")]
    common.save(name, groups, t_scan + t_find, note=f"scan {t_scan:.1f} s + find {t_find:.1f} s (groups as returned)")
