"""recipe_audit: become one with the data, fast.

The first steps of Karpathy's "A Recipe for Training Neural Networks" as a library: every image
scanned once in Rust (broken files, copies, what each picture looks like), results as Polars frames.

>>> import recipe_audit
>>> files = recipe_audit.scan("data/")   # doctest: +SKIP
"""

# The public API, by layer from the bottom: the scan's contract, reading, the analyses, the
# duplicate search, the audit. docs/architecture.md maps the package.
from recipe_audit._core import __version__
from recipe_audit.analysis.bias import Bias, suggest_bias
from recipe_audit.analysis.label_errors import find_label_errors, label_noise
from recipe_audit.analysis.labels import label_stats
from recipe_audit.analysis.outliers import OutlierThresholds, find_outliers
from recipe_audit.analysis.properties import BiasThresholds, property_label_association, property_shift
from recipe_audit.auditing.result import Audit
from recipe_audit.auditing.run import audit
from recipe_audit.dedup.duplicates import duplicate_pairs, find_duplicates
from recipe_audit.dedup.index import DuplicateIndex
from recipe_audit.dedup.leaks import find_label_conflicts, find_leaks
from recipe_audit.io.boxes import read_boxes, read_coco, read_yolo
from recipe_audit.io.dataset_folder import DatasetBusyError
from recipe_audit.io.datasets import ScanRun
from recipe_audit.io.manifests import join_labels, label_issues, read_labels
from recipe_audit.io.scan import scan, scan_bytes
from recipe_audit.io.sources import Manifest
from recipe_audit.schema import SCAN_SCHEMA, STATUSES

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
    "DatasetBusyError",
    "SCAN_SCHEMA",
    "STATUSES",
    "__version__",
]
