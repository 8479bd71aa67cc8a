"""Checks read from the watched baseline run: activations and the first NaN/Inf."""

from __future__ import annotations

import copy
from collections.abc import Callable

import polars as pl

from recipe_audit.checks._findings import NonFinite, activation_verdict, nan_verdict
from recipe_audit.checks._report import Verdict
from recipe_audit.checks._runner import training_check
from recipe_audit.checks._setup import Setup
from recipe_audit.checks._stats import activation_kind, activation_stats
from recipe_audit.checks._torch import first_tensor, nn, torch
from recipe_audit.checks.watch import ACT_SCHEMA


def _probe_activations(setup: Setup, model: nn.Module, x: torch.Tensor, step: int) -> list[dict[str, object]]:
    """Activation statistics of every leaf module on one forward of `x` (training mode, no graph)."""
    rows: list[dict[str, object]] = []
    base = float(x.float().pow(2).mean().sqrt()) if x.is_floating_point() else 1.0

    def hook_for(name: str, kind: str) -> Callable[[nn.Module, tuple[object, ...], object], None]:
        def hook(module: nn.Module, args: tuple[object, ...], output: object) -> None:
            out = first_tensor(output)
            if out is not None and out.is_floating_point():
                stats = activation_stats(out, kind)
                rows.append(
                    {
                        "step": step,
                        "module": name,
                        "kind": kind,
                        **stats,
                        "rms_ratio": stats["rms"] / base if base > 0 else float("nan"),
                        "is_output": False,
                    }
                )

        return hook

    handles = [
        m.register_forward_hook(hook_for(n, activation_kind(m)))
        for n, m in model.named_modules()
        if not list(m.children())
    ]
    try:
        model.train()
        with torch.no_grad():
            setup.forward(model, x)
    finally:
        for h in handles:
            h.remove()
    if rows:
        rows[-1]["is_output"] = True
    return rows


@training_check(
    order=160,
    step="the neural net training fails silently",
    advice="watch for dead, saturated or exploding activations",
)
def activations(setup: Setup) -> Verdict:
    """Layers with mostly dead ReLUs, saturated tanh/sigmoid units or exploding outputs, on
    `Budget.eval_examples` samples at init and after the baseline's training steps. Options as
    `run_recipe`.

    Example:
        >>> r = checks.activations(model_fn, (X, y), F.cross_entropy)   # doctest: +SKIP
        >>> r["message"][0]                                             # doctest: +SKIP
    """
    x, _ = setup.eval_batch()
    run = setup.baseline()
    rows = _probe_activations(setup, setup.fresh_model(), x, 0)
    rows += _probe_activations(setup, copy.deepcopy(run.model), x, len(run.losses))
    acts = pl.DataFrame(rows, schema=ACT_SCHEMA)
    return activation_verdict(acts, f"on {len(x)} samples, at init and after {len(run.losses)} training steps")


@training_check(
    order=170,
    step="the neural net training fails silently",
    advice="find where the first NaN/Inf appears",
)
def nan_inf(setup: Setup) -> Verdict:
    """Inputs, activations, loss, gradients and weights stay finite over the baseline run; when
    they do not, the first place a NaN/Inf appears (step, phase, module or parameter). Options as
    `run_recipe`.

    Example:
        >>> r = checks.nan_inf(model_fn, (X, y), F.cross_entropy)   # doctest: +SKIP
        >>> r["message"][0]                                         # doctest: +SKIP
    """
    run = setup.baseline()
    first: NonFinite | None = run.watcher.first_nonfinite if run.watcher is not None else None
    if first is None:
        x, _ = setup.eval_batch()
        if x.is_floating_point() and not bool(torch.isfinite(x).all()):
            bad = int((~torch.isfinite(x)).sum())
            first = {"step": 0, "phase": "input", "where": f"the evaluation batch ({bad} non-finite values)"}
    return nan_verdict(first, len(run.losses))
