"""recipe_audit: become one with the data, fast.

The first steps of Karpathy's "A Recipe for Training Neural Networks" as a library: every image
scanned once in Rust (broken files, copies, what each picture looks like), results as Polars frames.

>>> import recipe_audit
>>> files = recipe_audit.scan("data/")   # doctest: +SKIP
"""

from recipe_audit._core import __version__
from recipe_audit.duplicates import duplicate_pairs, find_duplicates, find_label_conflicts, find_leaks
from recipe_audit.index import DuplicateIndex
from recipe_audit.scan import SCAN_SCHEMA, STATUSES, scan, scan_bytes
from recipe_audit.labels import join_labels, label_issues, label_stats, read_labels
from recipe_audit.bias import Bias, suggest_bias
from recipe_audit.outliers import OutlierThresholds, find_outliers
from recipe_audit.properties import BiasThresholds, property_label_association, property_shift
from recipe_audit.label_errors import find_label_errors, label_noise
from recipe_audit.audit import Audit, audit
from recipe_audit.boxes import read_boxes, read_coco, read_yolo
from recipe_audit.output import ScanRun
from recipe_audit.sources import Manifest

__all__ = [
    "scan",
    "scan_bytes",
    "find_duplicates",
    "duplicate_pairs",
    "find_leaks",
    "find_label_conflicts",
    "audit",
    "Audit",
    "read_labels",
    "join_labels",
    "label_issues",
    "label_stats",
    "suggest_bias",
    "Bias",
    "find_outliers",
    "OutlierThresholds",
    "property_shift",
    "property_label_association",
    "BiasThresholds",
    "find_label_errors",
    "label_noise",
    "read_boxes",
    "read_coco",
    "read_yolo",
    "DuplicateIndex",
    "Manifest",
    "ScanRun",
    "SCAN_SCHEMA",
    "STATUSES",
    "__version__",
]
