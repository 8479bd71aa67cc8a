"""`watch`: record what happens inside the user's own training loop, step by step.

Many silent bugs live in the loop and the data pipeline rather than in the model. The watcher hooks
the model (inputs, every leaf module's outputs), the parameters (gradients as they arrive), the
optimizer (each ``step()`` closes one row) and ``Tensor.backward`` (the loss), and removes every
hook on exit. Only training forwards are recorded (``model.training`` and grad enabled), so a
validation pass inside the loop does not pollute the history.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from recipe_audit.checks._findings import (
    NonFinite,
    activation_verdict,
    frozen_reasons,
    frozen_verdict,
    input_verdict,
    loss_trend,
    lr_verdict,
    nan_verdict,
)
from recipe_audit.checks._registry import row
from recipe_audit.checks._report import Row, fmt, frame, skip, verdict
from recipe_audit.checks._stats import InputStats, activation_kind, activation_stats, channel_stats, input_stats
from recipe_audit.checks._torch import first_tensor, nn, register_grad_hook, require_torch, torch

if TYPE_CHECKING:
    from torch.optim.lr_scheduler import LRScheduler
    from torch.utils.hooks import RemovableHandle


@dataclass
class _BackwardPatch:
    """``Tensor.backward`` while watchers are active: the original, and who is told of each loss."""

    original: Callable[..., object] | None = None
    watchers: list[Watcher] = field(default_factory=list)


_BACKWARD = _BackwardPatch()


def _patched_backward(
    tensor: torch.Tensor,
    gradient: object = None,
    retain_graph: object = None,
    create_graph: object = False,
    inputs: object = None,
) -> None:
    for watcher in list(_BACKWARD.watchers):
        watcher._on_backward(tensor)
    assert _BACKWARD.original is not None  # patched only while a watcher holds the original
    _BACKWARD.original(tensor, gradient, retain_graph, create_graph, inputs)


@dataclass
class _Step:
    """What one optimizer step has recorded so far."""

    losses: list[float] = field(default_factory=list)
    input: InputStats | None = None
    carried: int = 0
    calls: list[str] = field(default_factory=list)


class Watcher:
    """Per-step records of a training loop; use through `watch`.

    Attributes:
        history: one row per optimizer step (see `watch`).
        layers: one row per step and parameter: ``step, param, grad_norm, update_norm,
            weight_norm, update_ratio`` (update measured every `every` steps, else null).
        activations: one row per recorded step and leaf module: ``step, module, kind, mean, std,
            rms, rms_ratio (over the input's), dead_frac, saturated_frac, is_output``.
        first_nonfinite: where the first NaN/Inf appeared (``step, phase, where``) or None.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: LRScheduler | None = None,
        *,
        every: int = 1,
        max_steps: int | None = None,
        activations: bool = True,
    ) -> None:
        require_torch()
        if every < 1:
            raise ValueError(f"every must be >= 1, not {every}")
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.every, self.max_steps, self.track_activations = every, max_steps, activations
        self.first_nonfinite: NonFinite | None = None
        self.input_channels: tuple[list[float], list[float]] | None = None
        self.scheduler_start: int | None = getattr(scheduler, "last_epoch", None)
        self._params = list(model.named_parameters())
        self._steps: list[dict[str, object]] = []
        self._layer_rows: list[dict[str, object]] = []
        self._act_rows: list[dict[str, object]] = []
        self._handles: list[RemovableHandle] = []
        self._active = False
        self._fresh: set[int] = {id(p) for _, p in self._params}
        self._snapshot: list[torch.Tensor] | None = None
        self._cur = _Step()

    # -- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> Watcher:
        self._active = True
        self._handles.append(self.model.register_forward_pre_hook(self._on_input, with_kwargs=True))
        for name, module in self.model.named_modules():
            if not list(module.children()):
                self._handles.append(module.register_forward_hook(self._output_hook(name or "model", module)))
        for _, p in self._params:
            if p.requires_grad:
                self._handles.append(register_grad_hook(p, self._grad_hook(p)))
        self._handles.append(self.optimizer.register_step_pre_hook(lambda *_: self._before_step()))
        self._handles.append(self.optimizer.register_step_post_hook(lambda *_: self._after_step()))
        if _BACKWARD.original is None:
            _BACKWARD.original = torch.Tensor.backward
            torch.Tensor.backward = _patched_backward  # type: ignore[method-assign] # the watcher's patch
        _BACKWARD.watchers.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Remove every hook (idempotent); the records stay."""
        self._active = False
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        if self in _BACKWARD.watchers:
            _BACKWARD.watchers.remove(self)
            if not _BACKWARD.watchers and _BACKWARD.original is not None:
                torch.Tensor.backward = _BACKWARD.original  # type: ignore[method-assign] # the patch undone
                _BACKWARD.original = None

    @property
    def steps(self) -> int:
        """Optimizer steps recorded so far."""
        return len(self._steps)

    def log_loss(self, loss: torch.Tensor | float) -> None:
        """Record a loss explicitly (for loops that call ``torch.autograd.backward`` directly)."""
        self._on_backward(loss if isinstance(loss, torch.Tensor) else torch.tensor(float(loss)))

    # -- hooks ----------------------------------------------------------------------------
    def _recording(self) -> bool:
        return self._active and self.model.training and torch.is_grad_enabled()

    def _due(self) -> bool:
        return len(self._steps) % self.every == 0

    def _nonfinite(self, phase: str, where: str) -> None:
        if self.first_nonfinite is None:
            self.first_nonfinite = {"step": len(self._steps), "phase": phase, "where": where}

    def _on_input(self, module: nn.Module, args: tuple[object, ...], kwargs: dict[str, object]) -> None:
        if not self._recording() or self._cur.input is not None:
            return
        x = first_tensor(args)
        x = first_tensor(kwargs) if x is None else x
        if x is None:
            return
        stats = input_stats(x)
        self._cur.input = stats
        if stats["input_nonfinite"]:
            self._nonfinite("input", f"the input batch ({stats['input_nonfinite']} non-finite values)")
        if self.input_channels is None and x.is_floating_point() and stats["input_nonfinite"] == 0:
            self.input_channels = channel_stats(x)

    def _output_hook(self, name: str, module: nn.Module) -> Callable[[nn.Module, tuple[object, ...], object], None]:
        kind = activation_kind(module)

        def hook(mod: nn.Module, args: tuple[object, ...], output: object) -> None:
            if not self._recording():
                return
            out = first_tensor(output)
            if out is None or not out.is_floating_point():
                return
            self._cur.calls.append(name)
            if self.first_nonfinite is None and not bool(torch.isfinite(out).all()):
                inp = first_tensor(args)
                bad_in = inp is not None and inp.is_floating_point() and not bool(torch.isfinite(inp).all())
                where = (
                    f"the input of `{name}` ({type(mod).__name__}): made inside forward() before it, not by a module"
                    if bad_in
                    else f"the output of `{name}` ({type(mod).__name__}), whose input was finite"
                )
                self._nonfinite("forward", where)
            if self.track_activations and self._due():
                base = self._cur.input["input_rms"] if self._cur.input else 1.0
                stats = activation_stats(out, kind)
                ratio = stats["rms"] / base if base and base > 0 else math.nan
                self._act_rows.append(
                    {
                        "step": len(self._steps),
                        "module": name,
                        "kind": kind,
                        **stats,
                        "rms_ratio": ratio,
                        "is_output": False,
                    }
                )

        return hook

    def _grad_hook(self, p: torch.Tensor) -> Callable[[torch.Tensor], None]:
        def hook(grad: torch.Tensor) -> None:
            if self._active and id(p) in self._fresh:
                self._fresh.discard(id(p))
                if p.grad is not None and bool((p.grad != 0).any()):
                    self._cur.carried += 1

        return hook

    def _on_backward(self, tensor: torch.Tensor) -> None:
        if not self._active or tensor.numel() != 1:
            return
        value = float(tensor.detach())
        self._cur.losses.append(value)
        if not math.isfinite(value):
            self._nonfinite("loss", "the loss")

    def _before_step(self) -> None:
        if not self._active:
            return
        self._snapshot = [p.detach().clone() for _, p in self._params] if self._due() else None

    def _after_step(self) -> None:
        if not self._active:
            return
        step = len(self._steps)
        grads = [p.grad for _, p in self._params]
        present = [g.detach().float().norm() for g in grads if g is not None]
        norms = iter(torch.stack(present).tolist() if present else [])
        grad_norms: list[float | None] = [next(norms) if g is not None else None for g in grads]
        weights: list[float] = (
            torch.stack([p.detach().float().norm() for _, p in self._params]).tolist() if self._params else []
        )
        updates: list[float | None] = [None] * len(self._params)
        if self._snapshot is not None:
            updates = torch.stack(
                [(p.detach() - old).float().norm() for (_, p), old in zip(self._params, self._snapshot, strict=True)]
            ).tolist()
        for (name, _), g, w, u in zip(self._params, grad_norms, weights, updates, strict=True):
            if self.first_nonfinite is None and g is not None and not math.isfinite(g):
                self._nonfinite("backward", f"the gradient of `{name}`")
            self._layer_rows.append(
                {
                    "step": step,
                    "param": name,
                    "grad_norm": g,
                    "update_norm": u,
                    "weight_norm": w,
                    "update_ratio": (u / w) if (u is not None and w > 0) else None,
                }
            )
        for (name, _), w in zip(self._params, weights, strict=True):
            if self.first_nonfinite is None and not math.isfinite(w):
                self._nonfinite("step", f"the weights of `{name}` after the optimizer step")
        if self._cur.calls and self.track_activations:
            last = self._cur.calls[-1]
            for r in self._act_rows[::-1]:
                if r["step"] != step:
                    break
                r["is_output"] = r["module"] == last
        finite = [g for g in grad_norms if g is not None]
        ratios = [u / w for u, w in zip(updates, weights, strict=True) if u is not None and w > 0]
        losses = self._cur.losses
        stats = self._cur.input
        self._steps.append(
            {
                "step": step,
                "loss": sum(losses) / len(losses) if losses else None,
                "lr": float(self.optimizer.param_groups[0]["lr"]),
                "input_mean": stats["input_mean"] if stats else None,
                "input_std": stats["input_std"] if stats else None,
                "input_min": stats["input_min"] if stats else None,
                "input_max": stats["input_max"] if stats else None,
                "batch_size": stats["batch_size"] if stats else None,
                "fingerprint": str(stats["fingerprint"]) if stats else None,
                "grad_norm": math.sqrt(sum(g * g for g in finite)) if finite else None,
                "update_ratio": sorted(ratios)[len(ratios) // 2] if ratios else None,
                "grad_carried": self._cur.carried,
                "nonfinite": self.first_nonfinite is not None,
            }
        )
        self._fresh = {id(p) for _, p in self._params}
        self._cur = _Step()
        self._snapshot = None
        if self.max_steps is not None and len(self._steps) >= self.max_steps:
            self.stop()

    # -- results --------------------------------------------------------------------------
    @property
    def history(self) -> pl.DataFrame:
        """One row per optimizer step: ``step, loss, lr, input_mean, input_std, input_min,
        input_max, batch_size, fingerprint, grad_norm, update_ratio (median over parameters),
        grad_carried (parameters whose gradient survived the previous step), nonfinite``."""
        return pl.DataFrame(self._steps, schema=_HISTORY_SCHEMA)

    @property
    def layers(self) -> pl.DataFrame:
        """Per step and parameter: gradient, update and weight norms (see `Watcher`)."""
        return pl.DataFrame(self._layer_rows, schema=_LAYER_SCHEMA)

    @property
    def activations(self) -> pl.DataFrame:
        """Per recorded step and leaf module: activation statistics (see `Watcher`)."""
        return pl.DataFrame(self._act_rows, schema=ACT_SCHEMA)

    def report(self, planned_steps: int | None = None) -> pl.DataFrame:
        """Findings over the recorded steps, in the report format of `run_recipe`.

        Rows (check names shared with the active checks): ``nan_inf``, ``decreasing_loss``,
        ``frozen_params``, ``grad_accumulation``, ``lr_schedule``, ``input_normalization``,
        ``activations``, ``repeated_batches``, ``update_ratio``. `planned_steps` (the length of the
        whole run) lets ``lr_schedule`` judge a decay that has not finished yet.

        Example:
            >>> with checks.watch(model, opt) as w: train(model, opt)   # doctest: +SKIP
            >>> w.report().filter(status="fail")                         # doctest: +SKIP
        """
        return frame(self._findings(planned_steps))

    def _findings(self, planned_steps: int | None) -> list[Row]:
        hist = self.history
        n = hist.height
        rows = [row("nan_inf", nan_verdict(self.first_nonfinite, n))]
        losses = hist["loss"].drop_nulls().to_list()
        rows.append(
            row(
                "decreasing_loss",
                loss_trend(losses, 1.0, 0.95)
                if len(losses) >= 10
                else skip(f"{len(losses)} losses recorded; needs 10"),
            )
        )
        layers = self.layers
        measured = layers.filter(pl.col("update_norm").is_not_null())
        if measured.is_empty():
            rows.append(row("frozen_params", skip("no update was measured")))
        else:
            per = measured.group_by("param", maintain_order=True).agg(moved=pl.col("update_norm").sum() > 0)
            got_grad = set(layers.filter(pl.col("grad_norm").is_not_null())["param"].unique().to_list())
            still = per.filter(~pl.col("moved"))["param"].to_list()
            reasons = frozen_reasons(self.model, self.optimizer, still, got_grad)
            rows.append(row("frozen_params", frozen_verdict(reasons, per.height, (), n)))
        carried = hist.filter(pl.col("grad_carried") > 0)
        rows.append(
            row(
                "grad_accumulation",
                verdict(
                    "fail",
                    float(carried.height),
                    "0 steps",
                    f"at {carried.height} of {n} steps the gradients of the previous step were still there at the "
                    f"first backward (first: step {carried['step'][0]}): they accumulate across optimizer steps",
                    "call optimizer.zero_grad() once per optimizer step, before backward()",
                )
                if carried.height
                else verdict("pass", 0.0, "0 steps", f"gradients started from zero at each of {n} steps"),
            )
        )
        sched = self.scheduler
        last_epoch = getattr(sched, "last_epoch", None)
        stepped = (
            f"scheduler stepped {last_epoch - self.scheduler_start} times over {n} optimizer steps"
            if last_epoch is not None and self.scheduler_start is not None
            else f"{n} optimizer steps"
        )
        rows.append(row("lr_schedule", lr_verdict(hist["lr"].drop_nulls().to_list(), planned_steps, stepped)))
        rows.append(row("input_normalization", input_verdict(self.input_channels, self.model)))
        rows.append(row("activations", activation_verdict(self.activations, f"over {n} steps")))
        fp = hist["fingerprint"]
        repeats = int((fp == fp.shift(1)).sum()) if n > 1 else 0
        rows.append(
            row(
                "repeated_batches",
                verdict(
                    "warn",
                    float(repeats),
                    "0 repeats",
                    f"the same input batch entered the net at {repeats} of {n - 1} consecutive steps",
                    "full-batch training repeats by design; otherwise the loader is stuck on one batch",
                )
                if repeats
                else verdict("pass", 0.0, "0 repeats", f"{n} distinct consecutive batches"),
            )
        )
        ratio = hist["update_ratio"].drop_nulls()
        if ratio.is_empty():
            rows.append(row("update_ratio", skip("no update was measured")))
        else:
            med = float(ratio.median())  # type: ignore[arg-type]
            ok = 1e-6 <= med <= 1e-1
            rows.append(
                row(
                    "update_ratio",
                    verdict(
                        "pass" if ok else "warn",
                        med,
                        "about 1e-3 (1e-6 to 1e-1)",
                        f"median update/weight ratio {fmt(med)} over {ratio.len()} measured steps",
                        "" if ok else "the learning rate is far too " + ("high" if med > 1e-1 else "low"),
                    ),
                )
            )
        return rows


_HISTORY_SCHEMA = {
    "step": pl.Int64,
    "loss": pl.Float64,
    "lr": pl.Float64,
    "input_mean": pl.Float64,
    "input_std": pl.Float64,
    "input_min": pl.Float64,
    "input_max": pl.Float64,
    "batch_size": pl.Int64,
    "fingerprint": pl.String,
    "grad_norm": pl.Float64,
    "update_ratio": pl.Float64,
    "grad_carried": pl.Int64,
    "nonfinite": pl.Boolean,
}
_LAYER_SCHEMA = {
    "step": pl.Int64,
    "param": pl.String,
    "grad_norm": pl.Float64,
    "update_norm": pl.Float64,
    "weight_norm": pl.Float64,
    "update_ratio": pl.Float64,
}
ACT_SCHEMA = {
    "step": pl.Int64,
    "module": pl.String,
    "kind": pl.String,
    "mean": pl.Float64,
    "std": pl.Float64,
    "rms": pl.Float64,
    "dead_frac": pl.Float64,
    "saturated_frac": pl.Float64,
    "rms_ratio": pl.Float64,
    "is_output": pl.Boolean,
}
"""Columns of `Watcher.activations` (and of the active `activations` check's probe)."""


def watch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: LRScheduler | None = None,
    *,
    every: int = 1,
    max_steps: int | None = None,
    activations: bool = True,
) -> Watcher:
    """Watch the user's own training loop: a context manager that records every optimizer step.

    Per step: the loss (captured at ``.backward()``), statistics of the input batch, the gradient
    norm of every parameter, the update-to-weight ratio, the learning rate, activation statistics
    of every leaf module, and where the first NaN/Inf appeared. Works on any device (statistics
    are computed where the tensors live). Budget knobs: `every` (measure updates and activations
    every N steps: each measure copies the weights once), `max_steps` (stop recording after N
    steps; the loop itself is not touched), `activations` (off for large models).

    Args:
        model: the ``nn.Module`` being trained.
        optimizer: its optimizer (each ``optimizer.step()`` closes one history row).
        scheduler: the LR scheduler, when there is one (its stepping is reported).

    Returns:
        A `Watcher`: ``w.history`` (a frame per step), ``w.layers``, ``w.activations`` and
        ``w.report()`` (findings, the report format of `run_recipe`).

    Example:
        >>> with checks.watch(model, optimizer) as w: my_training_loop()   # doctest: +SKIP
        >>> print(w.report())                                               # doctest: +SKIP
    """
    return Watcher(model, optimizer, scheduler, every=every, max_steps=max_steps, activations=activations)
