"""A PyTorch Lightning Callback that runs `watch` over the first N training steps.

Lightning is imported only when `RecipeCallback` is first looked up on `recipe_audit.checks`
(either the ``lightning`` package or the older ``pytorch_lightning``).
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from recipe_audit.checks.watch import Watcher

log = logging.getLogger("recipe_audit.checks")


def _callback_base() -> Any:
    try:
        from lightning.pytorch import Callback
    except ImportError:
        try:
            from pytorch_lightning import Callback
        except ImportError as err:
            raise ImportError("RecipeCallback needs PyTorch Lightning: pip install lightning") from err
    return Callback


@functools.lru_cache(maxsize=1)
def recipe_callback_class() -> type:
    """The `RecipeCallback` class, built on a Lightning ``Callback`` the first time it is asked for."""

    class RecipeCallback(_callback_base()):  # type: ignore[misc]
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
            self.report: Any = None
            self.history: Any = None

        def on_train_start(self, trainer: Any, pl_module: Any) -> None:
            if self.watcher is not None:
                return
            configs = getattr(trainer, "lr_scheduler_configs", None) or []
            scheduler = configs[0].scheduler if configs else None
            optimizer = trainer.optimizers[0]
            optimizer = getattr(optimizer, "_optimizer", optimizer)  # LightningOptimizer wraps the real one
            self.watcher = Watcher(pl_module, optimizer, scheduler, every=self.every).__enter__()

        def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
            if self.watcher is not None and self.report is None and self.watcher.steps >= self.steps:
                self._finish()

        def on_train_end(self, trainer: Any, pl_module: Any) -> None:
            if self.watcher is not None and self.report is None:
                self._finish()

        def _finish(self) -> None:
            assert self.watcher is not None
            self.watcher.stop()
            self.report, self.history = self.watcher.report(), self.watcher.history
            bad = self.report.filter(status="fail")
            for r in bad.iter_rows(named=True):
                log.warning("recipe check %s failed: %s (%s)", r["check"], r["message"], r["hint"])
            if self.fail_fast and not bad.is_empty():
                from recipe_audit.checks.pytest_helpers import assert_recipe_passes

                assert_recipe_passes(self.report)

    return RecipeCallback
