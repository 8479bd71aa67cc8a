"""What keeps the report inert: a Content-Security-Policy that allows no script and no network,
autoescaping of every value, and checks on the only markup we build ourselves (data URIs).

File names and labels are data from the dataset: a file named ``<img src=x onerror=alert(1)>.jpg``
must show as text. Jinja2 escapes every value placed in the template (text and attributes); the
policy below is the second wall: even markup that slipped through could run no script and load
nothing from the network.
"""

from __future__ import annotations

import re

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
"""No script of any kind, no fetch, no frame; images only from data: URIs; the inline stylesheet."""

_DATA_URI = re.compile(r"data:image/(png|jpeg);base64,[A-Za-z0-9+/]*={0,2}")


def data_uri(uri: str | None) -> str | None:
    """The URI when it is a base64 PNG/JPEG data URI (all we ever embed), else None."""
    return uri if uri is not None and _DATA_URI.fullmatch(uri) else None


def common_prefix(paths_min: str | None, paths_max: str | None) -> str:
    """The folder every path starts with, from the smallest and largest path (sorted order)."""
    if not paths_min or not paths_max:
        return ""
    n = 0
    for a, b in zip(paths_min, paths_max):
        if a != b:
            break
        n += 1
    prefix = paths_min[:n]
    return prefix[: prefix.rfind("/") + 1]


def shown(path: str, prefix: str) -> str:
    """The path as shown: relative to the common prefix (the full path goes in the tooltip)."""
    return path[len(prefix) :] if prefix and path.startswith(prefix) and len(path) > len(prefix) else path


__all__ = ["CSP", "data_uri", "common_prefix", "shown"]
