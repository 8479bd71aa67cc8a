"""Lazy access to PyTorch (and matplotlib): `import recipe_audit.checks` never imports them.

The first attribute looked up on `torch`, `nn` or `F` imports PyTorch; when it is missing, that
lookup raises an ImportError that says how to install it. Code in this package writes
``torch.zeros(...)`` as usual and stays importable without torch.
"""

from __future__ import annotations

import importlib
import types
from typing import TYPE_CHECKING, Any

INSTALL_HINT = "recipe_audit.checks needs PyTorch: pip install 'recipe-audit[torch]'"
PLOT_HINT = "recipe_audit.checks plots need matplotlib: pip install 'recipe-audit[torch]'"


class _LazyModule(types.ModuleType):
    """A stand-in that imports the real module on first attribute access."""

    def __init__(self, name: str, hint: str) -> None:
        super().__init__(name)
        self._lazy_name = name
        self._lazy_hint = hint
        self._lazy_module: types.ModuleType | None = None

    def _load(self) -> types.ModuleType:
        if self._lazy_module is None:
            try:
                self._lazy_module = importlib.import_module(self._lazy_name)
            except ImportError as err:
                raise ImportError(f"{self._lazy_hint} ({err})") from err
        return self._lazy_module

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_lazy_"):
            raise AttributeError(attr)
        return getattr(self._load(), attr)


if TYPE_CHECKING:
    import torch
    import torch.nn.functional as F
    from torch import nn
else:
    torch = _LazyModule("torch", INSTALL_HINT)
    nn = _LazyModule("torch.nn", INSTALL_HINT)
    F = _LazyModule("torch.nn.functional", INSTALL_HINT)


def require_torch() -> types.ModuleType:
    """Import torch now, or raise an ImportError that says how to install it."""
    try:
        return importlib.import_module("torch")
    except ImportError as err:
        raise ImportError(f"{INSTALL_HINT} ({err})") from err


def require_matplotlib() -> types.ModuleType:
    """Import matplotlib's object-oriented API (no pyplot, no global backend change)."""
    try:
        importlib.import_module("matplotlib")
        return importlib.import_module("matplotlib.figure")
    except ImportError as err:
        raise ImportError(f"{PLOT_HINT} ({err})") from err


def device_of(model: Any) -> Any:
    """The device of the model's first parameter (or buffer); CPU for a model without either."""
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return torch.device("cpu")


def first_tensor(obj: Any) -> Any:
    """The first tensor in a model output: the tensor itself, or the first one in a tuple/list/dict."""
    if isinstance(obj, torch.Tensor):
        return obj
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (tuple, list)):
        for item in obj:
            found = first_tensor(item)
            if found is not None:
                return found
    return None
