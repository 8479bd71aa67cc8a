"""Lazy access to PyTorch (and matplotlib): `import recipe_audit.checks` never imports them.

The first attribute looked up on `torch`, `nn` or `F` imports PyTorch through
`recipe_audit._optional.require`; when it is missing, that lookup raises an ImportError naming the
``torch`` extra. Code in this package writes ``torch.zeros(...)`` as usual and stays importable
without torch; type checkers see the real modules. The aliases below name what the user hands over.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import TYPE_CHECKING, SupportsFloat, TypeAlias

from recipe_audit._optional import require

EXTRA = "torch"
"""The extra that installs PyTorch and matplotlib: ``pip install 'recipe-audit[torch]'``."""
FEATURE = "recipe_audit.checks"
PLOT_FEATURE = "recipe_audit.checks plots"


class LazyModule(types.ModuleType):
    """A stand-in that imports the real module (through `require`) on first attribute access."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._lazy_module: types.ModuleType | None = None

    def __getattr__(self, attr: str) -> object:
        if attr.startswith("_lazy_"):
            raise AttributeError(attr)
        if self._lazy_module is None:
            self._lazy_module = require(self.__name__, extra=EXTRA, feature=FEATURE)
        return getattr(self._lazy_module, attr)


if TYPE_CHECKING:
    import torch
    import torch.nn.functional as F
    from torch import nn
    from torch.utils.hooks import RemovableHandle
else:
    torch = LazyModule("torch")
    nn = LazyModule("torch.nn")
    F = LazyModule("torch.nn.functional")

# What the user hands over (strings: torch is not imported to define them).
Batch: TypeAlias = "tuple[torch.Tensor, torch.Tensor]"
ModelFn: TypeAlias = "Callable[..., nn.Module]"
LossFn: TypeAlias = "Callable[[torch.Tensor, torch.Tensor], torch.Tensor]"
OptimizerFn: TypeAlias = "Callable[[nn.Module], torch.optim.Optimizer]"
SchedulerFn: TypeAlias = "Callable[[torch.optim.Optimizer], torch.optim.lr_scheduler.LRScheduler]"
TrainStep: TypeAlias = "Callable[[nn.Module, torch.optim.Optimizer, torch.Tensor, torch.Tensor], SupportsFloat]"
Predict: TypeAlias = "Callable[[nn.Module, torch.Tensor], object]"
Augment: TypeAlias = "Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]"
Preprocess: TypeAlias = "Callable[[torch.Tensor], torch.Tensor]"


def require_torch() -> types.ModuleType:
    """Import torch now, or raise an ImportError that says how to install it."""
    return require("torch", extra=EXTRA, feature=FEATURE)


def require_matplotlib() -> types.ModuleType:
    """matplotlib's object-oriented API (``matplotlib.figure``: no pyplot, no global backend change)."""
    return require("matplotlib.figure", extra=EXTRA, feature=PLOT_FEATURE)


def device_of(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (or buffer); CPU for a model without either."""
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return torch.device("cpu")


def backward(loss: torch.Tensor) -> None:
    """``loss.backward()``, the method itself (a `watch` patching ``Tensor.backward`` sees the call);
    torch leaves that method unannotated, hence the typed handle."""
    run: Callable[[], None] = loss.backward
    run()


def register_grad_hook(tensor: torch.Tensor, hook: Callable[[torch.Tensor], None]) -> RemovableHandle:
    """``tensor.register_hook(hook)`` (unannotated in torch): `hook` sees each gradient of `tensor`."""
    register: Callable[[Callable[[torch.Tensor], None]], RemovableHandle] = tensor.register_hook
    return register(hook)


def first_tensor(obj: object) -> torch.Tensor | None:
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


__all__ = [
    "EXTRA",
    "F",
    "Augment",
    "Batch",
    "LazyModule",
    "LossFn",
    "ModelFn",
    "OptimizerFn",
    "Predict",
    "Preprocess",
    "SchedulerFn",
    "TrainStep",
    "backward",
    "device_of",
    "first_tensor",
    "nn",
    "register_grad_hook",
    "require_matplotlib",
    "require_torch",
    "torch",
]
