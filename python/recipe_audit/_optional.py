"""Optional extras, imported in one way: a clear ``ImportError`` that names the extra to install.

Every import of a package that is not in the core dependencies (polars, numpy) goes through
`require`, at the moment the feature is used, so ``import recipe_audit`` never needs an extra::

    obstore = require("obstore", extra="s3", feature="reading object-store URIs")
"""

from __future__ import annotations

import importlib
import types

# Import name -> the package name pip knows it by, where the two differ.
_PACKAGES = {"PIL": "pillow", "skimage": "scikit-image", "sklearn": "scikit-learn"}


def missing(*modules: str) -> list[str]:
    """The pip package names of those `modules` that cannot be imported, in the order given."""
    absent = []
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            absent.append(_PACKAGES.get(module.split(".")[0], module.split(".")[0]))
    return absent


def optional(module: str) -> types.ModuleType | None:
    """Import `module` when it is installed, else None: for extras that only add something (more
    sample photographs), never for a feature the caller asked for.

    >>> optional("a_module_that_is_not_there") is None
    True
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def require(module: str, *, extra: str, feature: str) -> types.ModuleType:
    """Import `module`, or raise an ImportError saying that `feature` needs it and which extra brings it.

    >>> require("json", extra="report", feature="the report").__name__
    'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        package = _PACKAGES.get(module.split(".")[0], module.split(".")[0])
        raise ImportError(f"{feature} needs {package}: pip install 'recipe-audit[{extra}]' ({err})") from err


def require_all(*modules: str, extra: str, feature: str) -> None:
    """Raise one ImportError listing every one of `modules` that is missing (none: return)."""
    absent = missing(*modules)
    if absent:
        raise ImportError(f"{feature} needs {', '.join(absent)}: pip install 'recipe-audit[{extra}]'")
