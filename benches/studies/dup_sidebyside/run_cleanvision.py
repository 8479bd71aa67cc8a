import time

from cleanvision import Imagelab

from benches.studies.dup_sidebyside import common

t0 = time.perf_counter()
lab = Imagelab(data_path=str(common.IMGS))
lab.find_issues({"near_duplicates": {}, "exact_duplicates": {}})
sets = [list(s) for k in ("near_duplicates", "exact_duplicates") for s in lab.info[k]["sets"]]
pairs = [(s[0], x) for s in sets for x in s[1:]]  # overlapping sets merged
groups = common.components(pairs)
print("near sets", len(lab.info["near_duplicates"]["sets"]), "exact sets", len(lab.info["exact_duplicates"]["sets"]))
common.save("cleanvision near+exact", groups, time.perf_counter() - t0, note="sets merged where they overlap")
