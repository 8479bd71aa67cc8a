"""The recipe past the skeleton: a capacity sweep and a learning-rate range test, each with a plot and a verdict.

- "Verify decreasing training loss ... as capacity increases": `capacity_sweep` trains the same
  set-up at several widths (or from several factories) and checks the final training loss falls
  as the parameter count grows.
- "Don't trust learning rate decay defaults" / "Adam with a learning rate of 3e-4 is safe":
  `lr_range_test` raises the learning rate exponentially over a short run (loss against lr on a
  log scale), suggests one, and warns when the optimizer's own lr lies outside the range where
  the loss falls.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from recipe_audit.checks._setup import make_setup, preserved_rng, seed_all
from recipe_audit.checks._stats import decrease_ratio
from recipe_audit.checks._torch import LossFn, ModelFn, nn
from recipe_audit.checks.plots import figure

MONOTONE_TOL = 1.05
"""A wider model may end up to 5% above the previous one (noise) and still count as lower."""


@dataclass(frozen=True)
class CapacitySweep:
    """The sweep's table (``name, params, first_loss, final_loss``, by parameter count) and its verdict."""

    table: pl.DataFrame
    status: str
    message: str

    def plot(self, path: str | os.PathLike[str]) -> str:
        """Write a PNG of the final training loss against the parameter count (log x)."""
        fig = figure(6, 3.5)
        ax = fig.add_subplot(1, 1, 1)
        ax.plot(self.table["params"].to_list(), self.table["final_loss"].to_list(), marker="o")
        for name, x, y in self.table.select("name", "params", "final_loss").iter_rows():
            ax.annotate(str(name), (x, y), fontsize=7, textcoords="offset points", xytext=(3, 3))
        ax.set_xscale("log")
        ax.set_xlabel("parameters")
        ax.set_ylabel("final training loss")
        ax.set_title(f"capacity sweep: {self.status}")
        fig.savefig(path)
        return os.fspath(path)


def capacity_sweep(
    model_fn: ModelFn | Sequence[Callable[[], nn.Module]],
    data: Any,
    loss_fn: LossFn,
    *,
    widths: Sequence[int] = (8, 16, 32, 64),
    steps: int = 300,
    width_arg: str = "width",
    seed: int = 0,
    **options: Any,
) -> CapacitySweep:
    """Train the same set-up at increasing capacity; the final training loss should fall as it grows.

    Args:
        model_fn: ``model_fn(width=w)`` (the argument named `width_arg`) for each of `widths`, or a
            list of zero-argument factories (smallest first or not: they are sorted by parameters).
        data, loss_fn: as `run_recipe`.
        steps: training steps per model (same seed, same batches for each).
        options: `run_recipe`'s options (optimizer_fn, train_step, preprocess, augment, task, ...).

    Returns:
        A `CapacitySweep`: ``status`` ``pass`` when the final loss falls with every step up in
        parameters (within 5%) and ends clearly lower; ``warn`` when the largest model ends lower but
        not monotonically; ``fail`` when it does not end lower at all.

    Example:
        >>> sweep = checks.capacity_sweep(lambda width=32: mlp(width), (X, y), F.cross_entropy)  # doctest: +SKIP
        >>> sweep.status, sweep.plot("capacity.png")                                               # doctest: +SKIP
    """
    factories: list[tuple[str, Callable[[], nn.Module]]]
    if callable(model_fn):
        factories = [(f"{width_arg}={w}", functools.partial(model_fn, **{width_arg: w})) for w in widths]
    else:
        factories = [(getattr(f, "__name__", f"model {i}"), f) for i, f in enumerate(model_fn)]
    if len(factories) < 2:
        raise ValueError("a capacity sweep needs at least two models")
    rows = []
    with preserved_rng():
        for name, factory in factories:
            setup = make_setup(factory, data, loss_fn, {**options, "seed": seed})
            run = setup.train(steps)
            first, last, _ = decrease_ratio(run.losses)
            rows.append(
                {
                    "name": name,
                    "params": sum(p.numel() for p in run.model.parameters()),
                    "first_loss": first,
                    "final_loss": last,
                }
            )
    table = pl.DataFrame(rows).sort("params", maintain_order=True)
    losses = table["final_loss"].to_list()
    small, large = losses[0], losses[-1]
    rises = [
        f"{a} -> {b}"
        for a, b, la, lb in zip(table["name"], table["name"][1:], losses, losses[1:])
        if lb > la * MONOTONE_TOL + 1e-3
    ]
    words = (
        f"final training loss {', '.join(f'{n}: {v:.3g}' for n, v in zip(table['name'], losses))} "
        f"(parameters {table['params'][0]} .. {table['params'][-1]})"
    )
    if not (large < small / MONOTONE_TOL):
        return CapacitySweep(
            table,
            "fail",
            f"{words}: the largest model does not fit the training set better than "
            "the smallest; check the capacity argument reaches the layers, the init scales with "
            "width, and the lr suits the wider models",
        )
    if rises:
        return CapacitySweep(table, "warn", f"{words}: the loss rises from {'; '.join(rises)}")
    return CapacitySweep(table, "pass", f"{words}: training loss decreases as capacity increases")


@dataclass(frozen=True)
class LRRange:
    """The range test: ``table`` (``step, lr, loss, smoothed``), the suggested lr, the range where the
    loss falls fastest, the optimizer's own lr and a verdict on it."""

    table: pl.DataFrame
    suggested_lr: float
    good_range: tuple[float, float]
    user_lr: float | None
    status: str
    message: str

    def plot(self, path: str | os.PathLike[str]) -> str:
        """Write a PNG of the (smoothed) loss against the learning rate on a log scale."""
        fig = figure(6, 3.5)
        ax = fig.add_subplot(1, 1, 1)
        ax.plot(self.table["lr"].to_list(), self.table["loss"].to_list(), alpha=0.3, label="loss")
        ax.plot(self.table["lr"].to_list(), self.table["smoothed"].to_list(), label="smoothed")
        ax.axvspan(*self.good_range, color="tab:green", alpha=0.15, label="loss falls fastest")
        ax.axvline(self.suggested_lr, color="tab:green", label=f"suggested {self.suggested_lr:.2g}")
        if self.user_lr:
            ax.axvline(self.user_lr, color="tab:red", linestyle="--", label=f"yours {self.user_lr:.2g}")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("training loss")
        ax.legend(fontsize=7)
        ax.set_title(f"learning rate range test: {self.status}")
        fig.savefig(path)
        return os.fspath(path)


def _smooth(losses: list[float], beta: float = 0.9) -> list[float]:
    """Bias-corrected exponential moving average (the range test's usual smoothing)."""
    out, avg = [], 0.0
    for i, v in enumerate(losses, 1):
        avg = beta * avg + (1 - beta) * v
        out.append(avg / (1 - beta**i))
    return out


def lr_range_test(
    model_fn: Callable[[], nn.Module],
    data: Any,
    loss_fn: LossFn,
    *,
    min_lr: float = 1e-6,
    max_lr: float = 1.0,
    steps: int = 120,
    seed: int = 0,
    **options: Any,
) -> LRRange:
    """Train a fresh model while raising the learning rate exponentially from `min_lr` to `max_lr`
    (every param group of the user's optimizer), recording the loss: where it falls fastest is a
    good range, the lr of its lowest point / 10 a good choice.

    Args:
        model_fn, data, loss_fn: as `run_recipe`.
        steps: steps of the sweep (stops early once the smoothed loss exceeds 4x its lowest).
        options: `run_recipe`'s options; ``optimizer_fn`` gives the optimizer (default Adam, its lr
            the one judged).

    Returns:
        An `LRRange`: ``status`` ``warn`` when the optimizer's own lr is outside `good_range`,
        ``fail`` when the loss never fell (no lr in the sweep trains this set-up), else ``pass``.

    Example:
        >>> lr = checks.lr_range_test(model_fn, (X, y), F.cross_entropy)   # doctest: +SKIP
        >>> lr.suggested_lr, lr.good_range, lr.plot("lr.png")               # doctest: +SKIP
    """
    if not (0 < min_lr < max_lr) or steps < 10:
        raise ValueError("need 0 < min_lr < max_lr and steps >= 10")
    with preserved_rng():
        setup = make_setup(model_fn, data, loss_fn, {**options, "seed": seed})
        seed_all(seed)
        model = setup.fresh_model()
        optimizer = setup.optimizer_fn(model)
        user_lr = float(optimizer.param_groups[0]["lr"]) if optimizer.param_groups else None
        batches = setup.data.cycle()
        lrs, losses = [], []
        for i in range(steps):
            lr = min_lr * (max_lr / min_lr) ** (i / (steps - 1))
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss = setup.step(model, optimizer, *setup.prepare(*next(batches), train=True))
            lrs.append(lr)
            losses.append(loss)
            smoothed = _smooth(losses)
            if not math.isfinite(loss) or (i > 10 and smoothed[-1] > 4 * min(smoothed)):
                break
    smoothed = _smooth([v if math.isfinite(v) else 1e30 for v in losses])
    table = pl.DataFrame({"step": list(range(len(lrs))), "lr": lrs, "loss": losses, "smoothed": smoothed})
    low_at = min(range(len(smoothed)), key=smoothed.__getitem__)
    slopes = [
        (smoothed[i + 1] - smoothed[i - 1]) / (math.log(lrs[i + 1]) - math.log(lrs[i - 1]))
        for i in range(1, max(2, low_at))
    ]
    fell = smoothed[0] - smoothed[low_at]
    if not slopes or fell <= 0.05 * abs(smoothed[0]):
        return LRRange(
            table,
            lrs[low_at],
            (lrs[0], lrs[-1]),
            user_lr,
            "fail",
            f"the loss never fell over lr {min_lr:.2g} .. {lrs[-1]:.2g} ({steps} steps): no learning rate "
            "trains this set-up; look for a bug before tuning",
        )
    steepest = min(range(len(slopes)), key=slopes.__getitem__)
    fast = [i + 1 for i, s in enumerate(slopes) if s <= 0.5 * slopes[steepest]]
    good = (lrs[fast[0]], lrs[low_at])
    suggested = min(max(lrs[low_at] / 10, good[0]), good[1])
    words = (
        f"loss {smoothed[0]:.3g} -> lowest {smoothed[low_at]:.3g} at lr {lrs[low_at]:.2g}; it falls fastest "
        f"for lr {good[0]:.2g} .. {good[1]:.2g}; suggested lr {suggested:.2g}"
    )
    if user_lr is not None and not (good[0] <= user_lr <= good[1]):
        side = "below" if user_lr < good[0] else "above"
        return LRRange(
            table, suggested, good, user_lr, "warn", f"{words}: your optimizer's lr {user_lr:.2g} is {side} that range"
        )
    yours = f"; your lr {user_lr:.2g} is inside it" if user_lr is not None else ""
    return LRRange(table, suggested, good, user_lr, "pass", words + yours)
