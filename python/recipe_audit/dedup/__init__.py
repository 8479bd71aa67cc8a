"""Copies: exact and near duplicates, and what they break (leaks across splits, conflicting labels).

`rule` decides which search a call runs and gives the shared groups frame; `thumbmatch` is the
default window rule on the scan's thumbnails; `duplicates` (`find_duplicates`,
`duplicate_pairs`), `leaks` (`find_leaks`, `find_label_conflicts`), `index` (`DuplicateIndex`, a
saved reference set) and `blockjoin` (the block layout of the distributed single-hash join).
"""
