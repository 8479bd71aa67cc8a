"""Unpack Qt resource bundles (``.rcc``): GCompris ships its photographs inside them.

    python -m benches.studies.qt_resources /tmp/fresh_sources/gcompris_extracted \\
        /usr/share/gcompris-qt/rcc/{categorization,clickgame,details,erase,explore_farm_animals,explore_monuments,explore_world_animals,explore_world_music,gravity,solar_system,babyshapes}.rcc

The format (Qt's ``rcc`` output, versions 1-3): a ``qres`` header, then a tree of nodes (a
directory lists its children, a file points at its data), a name table in UTF-16 and the data,
each file zlib-compressed or stored. Zstandard-compressed files (Qt 6) are skipped with a note.
Used for `benches/studies/unseen_sources.txt` (BENCHMARKS.md, "Sources never seen").
"""

from __future__ import annotations

import argparse
import struct
import sys
import zlib
from pathlib import Path

_COMPRESSED, _DIRECTORY, _ZSTD = 1, 2, 4


def unpack(bundle: Path, into: Path) -> int:
    """Write every file of `bundle` under `into` (its own paths); return how many were written."""
    data = bundle.read_bytes()
    if data[:4] != b"qres":
        raise ValueError(f"{bundle}: not a Qt resource bundle")
    version, tree, payload, names = struct.unpack(">IIII", data[4:20])
    node_size = 14 if version == 1 else 22

    def name(offset: int) -> str:
        (length,) = struct.unpack(">H", data[names + offset : names + offset + 2])
        return data[names + offset + 6 : names + offset + 6 + 2 * length].decode("utf-16-be")

    written = 0
    stack: list[tuple[int, Path]] = [(0, Path())]
    while stack:
        index, parent = stack.pop()
        at = tree + index * node_size
        name_offset, flags = struct.unpack(">IH", data[at : at + 6])
        path = parent / name(name_offset) if index else parent
        if flags & _DIRECTORY:
            count, first = struct.unpack(">II", data[at + 6 : at + 14])
            stack.extend((child, path) for child in range(first, first + count))
            continue
        (offset,) = struct.unpack(">I", data[at + 10 : at + 14])
        (size,) = struct.unpack(">I", data[payload + offset : payload + offset + 4])
        raw = data[payload + offset + 4 : payload + offset + 4 + size]
        if flags & _ZSTD:
            print(f"{bundle}: {path} is zstd-compressed, skipped", file=sys.stderr)
            continue
        if flags & _COMPRESSED:
            raw = zlib.decompress(raw[4:])  # a 4-byte length, then the zlib stream
        target = into / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(raw)
        written += 1
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("into", type=Path)
    ap.add_argument("bundles", type=Path, nargs="+")
    args = ap.parse_args()
    for bundle in args.bundles:
        print(f"{bundle}: {unpack(bundle, args.into)} files")


if __name__ == "__main__":
    main()
