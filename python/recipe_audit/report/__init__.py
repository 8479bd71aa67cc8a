"""The audit as one self-contained HTML page (`page`): summary, galleries, plots; no script, no network.

    recipe_audit.audit("data/").to_html("report.html")

`page` builds the context and writes the file; `plots` draws the matplotlib figures, `thumbs`
the Pillow thumbnails, `template` holds the Jinja2 page and `escaping` the Content-Security-Policy
and data URIs. Needs the ``report`` extra: ``pip install recipe-audit[report]``.
"""

from recipe_audit.report.page import (
    MAX_CLASSES,
    MAX_GROUPS,
    MAX_MEMBERS,
    MAX_ROWS,
    PER_FLAG,
    TOP_SCORES,
    render_html,
    write_report,
)

__all__ = [
    "render_html",
    "write_report",
    "MAX_ROWS",
    "MAX_GROUPS",
    "MAX_MEMBERS",
    "PER_FLAG",
    "TOP_SCORES",
    "MAX_CLASSES",
]
