"""Thumbnails for the report: small JPEGs made with Pillow, embedded as data URIs.

Only files the scan decoded are opened, each at most once (a cache keyed by path), JPEGs through
Pillow's draft mode (DCT-domain downscaling), in a few threads. A file that fails now (changed
since the scan, or a Pillow limit) gets no thumbnail, and the page says so; nothing is raised.
"""

from __future__ import annotations

import base64
import io
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from recipe_audit._optional import require

SIZE = 112
"""Longest side of a thumbnail, in pixels."""


def _thumbnail(path: str, size: int) -> str | None:
    image = require("PIL.Image", extra="report", feature="the report's thumbnails")
    image_ops = require("PIL.ImageOps", extra="report", feature="the report's thumbnails")
    try:
        with image.open(path) as im:
            im.draft("RGB", (size * 2, size * 2))  # JPEG: decode at 1/2..1/8 scale
            im = image_ops.exif_transpose(im)
            im.thumbnail((size, size))
            if im.mode not in ("RGB", "L"):
                im = im.convert("RGB")
            buf = io.BytesIO()
            im.save(buf, format="JPEG", quality=72)
    except Exception:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def thumbnails(
    paths: Iterable[str], *, size: int = SIZE, progress: bool = False, threads: int = 4
) -> dict[str, str | None]:
    """A data URI (or None when the file cannot be read now) for each distinct path."""
    todo = list(dict.fromkeys(paths))
    out: dict[str, str | None] = {}
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        for i, (path, uri) in enumerate(zip(todo, pool.map(lambda p: _thumbnail(p, size), todo)), 1):
            out[path] = uri
            if progress and (i % 25 == 0 or i == len(todo)):
                print(f"\rthumbnails {i}/{len(todo)}", end="\n" if i == len(todo) else "", file=sys.stderr, flush=True)
    return out


__all__ = ["thumbnails", "SIZE"]
