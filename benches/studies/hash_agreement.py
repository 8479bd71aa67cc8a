"""Agreement of scan's ahash/dhash/phash with the imagehash package on real photos.

    python -m benches.studies.hash_agreement [N]      # N photos (default 600), corpus from make_photo_corpus

Prints, per `min_decode_side` (the shorter side JPEGs keep when decoded at reduced scale), the share
of files within 4 bits of imagehash, the share bit-identical, and the 95th percentile distance.
"""

from __future__ import annotations

import sys
import tempfile

import imagehash
import numpy as np
from PIL import Image

from recipe_audit import _core, examples

HASHES = {"ahash": imagehash.average_hash, "dhash": imagehash.dhash, "phash": imagehash.phash}


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        paths = [str(p) for p in examples.make_photo_corpus(folder, n, seed=1)]
        reference = {}
        for p in paths:
            with Image.open(p) as im:
                reference[p] = [int(str(f(im)), 16) for f in HASHES.values()]
        print("| min_decode_side | hash | within 4 bits | identical | p95 bits |")
        print("|---|---|---|---|---|")
        for side in (32, 48, 64, 128, 100_000):
            cols = _core.scan_paths(paths, min_decode_side=side)
            d = np.array(
                [
                    [bin(cols[h][i] ^ reference[p][j]).count("1") for j, h in enumerate(HASHES)]
                    for i, p in enumerate(cols["path"])
                ]
            )
            label = "full size" if side == 100_000 else str(side)
            for j, h in enumerate(HASHES):
                print(
                    f"| {label} | {h} | {np.mean(d[:, j] <= 4):.3f} | {np.mean(d[:, j] == 0):.3f} "
                    f"| {np.percentile(d[:, j], 95):.0f} |"
                )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 600)
