"""Which real pictures the studies draw from: `recipe_audit.examples.photo_library` (the default),
or a list of picture files given with ``--sources FILE`` (one path per line), for a check on
sources no threshold was ever chosen on.

    python -m benches.studies.outlier_heldout --seed 113 --sources /tmp/fresh_sources/photos.txt

A listed file becomes a ``photo`` source named by its file stem (made unique with its folder where
two stems meet), family ``listed:<folder>``, gray when its colourfulness (Hasler-Süsstrunk, the
scan's measure) is under 1, as telescope pictures and old prints are; read as `photo_library` reads
Debian's pictures (long side at most 1600 px, pictures under 200 px on the short side skipped).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np
from PIL import Image

from recipe_audit.examples import Photo, photo_library

_LONG_SIDE = 1600
_listed: Path | None = None


def use(listing: Path | None) -> None:
    """Draw from the files listed in ``listing`` from now on (``None``: `photo_library`)."""
    global _listed
    _listed = listing


def library() -> list[Photo]:
    """The sources of the current choice (see the module's docstring)."""
    return photo_library() if _listed is None else list(_read_listing(_listed))


def _colourfulness(arr: np.ndarray) -> float:
    r, g, b = (arr[:, :, i].astype(np.float64) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


@functools.lru_cache(maxsize=2)
def _read_listing(listing: Path) -> tuple[Photo, ...]:
    paths = [Path(line.strip()) for line in listing.read_text().splitlines() if line.strip()]
    stems: dict[str, int] = {}
    for p in paths:
        stems[p.stem] = stems.get(p.stem, 0) + 1
    out = []
    for path in paths:
        name = path.stem if stems[path.stem] == 1 else f"{path.parent.name}_{path.stem}"
        name = re.sub(r"\s+", "_", name)
        try:
            with Image.open(path) as im:
                im.draft("RGB", (_LONG_SIDE, _LONG_SIDE))
                im = im.convert("RGB")
                im.thumbnail((_LONG_SIDE, _LONG_SIDE), Image.Resampling.LANCZOS)
                arr = np.ascontiguousarray(np.asarray(im))
        except (OSError, ValueError):
            continue
        if min(arr.shape[:2]) < 200:
            continue
        gray = _colourfulness(arr) < 1.0
        arr.flags.writeable = False
        out.append(Photo(name, f"listed:{path.parent.name}", gray, "photo", arr))
    return tuple(sorted(out, key=lambda p: (p.family, p.name)))
