"""Reading: where files come from and how each becomes a row.

`sources` (object stores, `Manifest`), `manifests` (label tables matched to files), `boxes`
(COCO / YOLO annotations), `listing` (a source as one sorted table, and the scan rows of any
slice of it), `scan` (`scan`, `scan_bytes`) and `datasets` (``scan(out=...)``: sharded Parquet
runs that resume). It reads and never writes a user's files.
"""
