"""A PyTorch Lightning Callback that runs `watch` over the first N training steps.

Lightning (the ``lightning`` package, or the older ``pytorch_lightning``) is imported only when the
class is first asked for: ``checks.RecipeCallback`` or `recipe_callback_class()`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, cast

import polars as pl

from recipe_audit._optional import missing, require
from recipe_audit.checks._torch import nn, torch
from recipe_audit.checks.integrations.pytest_helpers import assert_recipe_passes
from recipe_audit.checks.watch import Watcher

if TYPE_CHECKING:
    from torch.optim.lr_scheduler import LRScheduler

log = logging.getLogger("recipe_audit.checks")

EXTRA = "lightning"
"""The extra that installs Lightning: ``pip install 'recipe-audit[lightning]'``."""


class _SchedulerConfig(Protocol):
    scheduler: LRScheduler


class _Trainer(Protocol):
    """What the callback reads off a Lightning ``Trainer`` (of either package)."""

    @property
    def optimizers(self) -> Sequence[torch.optim.Optimizer]: ...

    @property
    def lr_scheduler_configs(self) -> Sequence[_SchedulerConfig]: ...


def _callback_base() -> type:
    """Lightning's ``Callback`` class: from ``lightning``, else from ``pytorch_lightning``."""
    older = missing("lightning") and not missing("pytorch_lightning")
    module = require(
        "pytorch_lightning" if older else "lightning.pytorch",
        extra=EXTRA,
        feature="RecipeCallback (PyTorch Lightning)",
    )
    return cast(type, module.Callback)


class RecipeCallbackBase:
    """Watch the first `steps` optimizer steps of ``trainer.fit`` and report what went wrong.

    After those steps (or at the end of training, if sooner) the findings are in
    ``callback.report`` (the format of `run_recipe`) and ``callback.history``; failures are
    logged as warnings, and raised as an AssertionError when `fail_fast` is set.

    Example:
        >>> cb = checks.RecipeCallback(steps=50)                        # doctest: +SKIP
        >>> Trainer(callbacks=[cb]).fit(module); print(cb.report)       # doctest: +SKIP
    """

    def __init__(self, steps: int = 100, *, every: int = 1, fail_fast: bool = False) -> None:
        super().__init__()
        self.steps, self.every, self.fail_fast = steps, every, fail_fast
        self.watcher: Watcher | None = None
        self.report: pl.DataFrame | None = None
        self.history: pl.DataFrame | None = None

    def on_train_start(self, trainer: _Trainer, pl_module: nn.Module) -> None:
        if self.watcher is not None:
            return
        configs = getattr(trainer, "lr_scheduler_configs", None) or []
        scheduler = configs[0].scheduler if configs else None
        optimizer = trainer.optimizers[0]
        optimizer = getattr(optimizer, "_optimizer", optimizer)  # LightningOptimizer wraps the real one
        self.watcher = Watcher(pl_module, optimizer, scheduler, every=self.every).__enter__()

    def on_train_batch_end(
        self, trainer: _Trainer, pl_module: nn.Module, outputs: object, batch: object, batch_idx: int
    ) -> None:
        if self.watcher is not None and self.report is None and self.watcher.steps >= self.steps:
            self._finish(self.watcher)

    def on_train_end(self, trainer: _Trainer, pl_module: nn.Module) -> None:
        if self.watcher is not None and self.report is None:
            self._finish(self.watcher)

    def _finish(self, watcher: Watcher) -> None:
        watcher.stop()
        report = watcher.report()
        self.report, self.history = report, watcher.history
        bad = report.filter(status="fail")
        for r in bad.iter_rows(named=True):
            log.warning("recipe check %s failed: %s (%s)", r["check"], r["message"], r["hint"])
        if self.fail_fast and not bad.is_empty():
            assert_recipe_passes(report)


@functools.lru_cache(maxsize=1)
def recipe_callback_class() -> type[RecipeCallbackBase]:
    """The `RecipeCallback` class: `RecipeCallbackBase` on Lightning's ``Callback``, built (and
    Lightning imported) the first time it is asked for."""
    return cast(
        "type[RecipeCallbackBase]",
        type(
            "RecipeCallback",
            (RecipeCallbackBase, _callback_base()),
            {"__doc__": RecipeCallbackBase.__doc__, "__module__": __name__},
        ),
    )
