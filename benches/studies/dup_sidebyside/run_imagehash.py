import time

import imagehash
import numpy as np
from PIL import Image

from benches.studies.dup_sidebyside import common

ps = common.paths()
t0 = time.perf_counter()
hashes = [imagehash.phash(Image.open(p)) for p in ps]
bits = np.array([h.hash.flatten() for h in hashes], dtype=np.uint8)
pairs = []
for i in range(len(ps)):
    d = (bits[i + 1 :] != bits[i]).sum(1)
    pairs += [(ps[i], ps[i + 1 + j]) for j in np.nonzero(d <= 10)[0]]
groups = common.components(pairs)
common.save(
    "imagehash phash <=10", groups, time.perf_counter() - t0, note=f"{len(pairs)} pairs -> connected components"
)
