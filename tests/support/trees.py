"""Big trees for the tests, made cheaply: hard links to a few real photos."""

from __future__ import annotations

import os
from pathlib import Path


def hard_linked_tree(photos: list[Path], folder: Path, count: int, digits: int = 6) -> Path:
    """`count` hard links to `photos` (cycled) in the new flat folder `folder`: a scan of many
    seconds that costs no disk space."""
    folder.mkdir()
    for i in range(count):
        source = photos[i % len(photos)]
        os.link(source, folder / f"{i:0{digits}d}{source.suffix}")
    return folder
