"""Checks on the training step itself: clipping, gradient accumulation, frozen parameters.

The step is the user's `train_step` (or the textbook one), run on copies of a model, so these
checks see the bugs that live in the step: a clamped loss, a missing ``zero_grad``, an optimizer
over the wrong parameters.
"""

from __future__ import annotations

import copy
import math

import polars as pl

from recipe_audit.checks._findings import frozen_reasons, frozen_verdict
from recipe_audit.checks._outputs import describe, per_sample_losses
from recipe_audit.checks._report import Verdict, fmt, skip, verdict
from recipe_audit.checks._runner import training_check
from recipe_audit.checks._setup import Setup, seed_all
from recipe_audit.checks._torch import Batch, first_tensor, nn, register_grad_hook, torch

ACCUMULATION_TOL = 1e-6
"""Relative parameter difference after one step with and without the previous step's gradients."""


def _output_gradients(
    setup: Setup, model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor
) -> torch.Tensor | None:
    """Per-sample norms of d(loss)/d(model output) during one user step, or None if unseen."""
    grads: list[torch.Tensor] = []

    def hook(module: nn.Module, args: tuple[object, ...], output: object) -> None:
        out = first_tensor(output)
        if out is not None and out.requires_grad:
            register_grad_hook(out, lambda g: grads.append(g.detach()))

    handle = model.register_forward_hook(hook)
    try:
        setup.step(model, optimizer, x, y)
    finally:
        handle.remove()
    if not grads:
        return None
    if all(g.shape == grads[0].shape for g in grads):
        total = torch.stack(grads).sum(0)
    else:
        total = torch.cat(grads[::-1])
    if total.shape[0] != len(x):
        return None
    norms: torch.Tensor = total.reshape(len(x), -1).norm(dim=1)
    return norms


def _outliers(setup: Setup, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Targets with every other sample made an outlier: the least likely class, or a far-off value."""
    with torch.no_grad():
        out = setup.forward(model, x)
    target = describe(setup.task, out, y)
    y2 = y.clone()
    pick = torch.arange(len(y), device=y.device) % 2 == 0
    if target.kind == "categorical" and y.is_floating_point():  # soft targets: all mass on the least likely class
        y2[pick] = torch.nn.functional.one_hot(out.argmin(-1), out.shape[-1]).to(y.dtype).reshape(y.shape)[pick]
    elif target.kind == "categorical":
        worst = out.argmin(-1).reshape(y.shape).to(y.dtype)
        y2[pick] = worst[pick]
    elif target.kind == "bernoulli":
        y2[pick] = 1 - y2[pick]
    else:
        y2[pick] = y2[pick] + 10 * (float(y.float().std()) or 1.0)
    return y2


def _silenced(setup: Setup, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[int, int, float] | None:
    """(samples with a loss but no gradient, samples with a loss, their largest loss)."""
    model.train()
    with torch.no_grad():
        losses = per_sample_losses(setup.loss_fn, setup.forward(model, x), y)
    norms = _output_gradients(setup, model, setup.optimizer_fn(model), x, y)
    if norms is None:
        return None
    top = max((v for v in losses if not math.isnan(v)), default=0.0)
    has_loss = [not math.isnan(v) and v > 1e-6 * max(top, 1e-12) and v > 0 for v in losses]
    biggest = float(norms.max())
    silent = [h and float(g) <= 1e-12 * max(biggest, 1e-30) for h, g in zip(has_loss, norms)]
    worst = max((v for v, s in zip(losses, silent) if s), default=0.0)
    return sum(silent), sum(has_loss), worst


@training_check(
    order=120,
    step="the neural net training fails silently",
    advice="clip gradients, not the loss",
)
def grad_clipping(setup: Setup) -> Verdict:
    """Runs the user's step at init and on deliberate outliers after training, and fails when a
    sample with a loss gets exactly zero gradient at the model output (a clamped loss or clamped
    outputs where the gradient norm should be clipped). Options as `run_recipe`.

    Example:
        >>> r = checks.grad_clipping(model_fn, (X, y), F.cross_entropy, train_step=my_step)  # doctest: +SKIP
        >>> r["message"][0]                                                                 # doctest: +SKIP
    """
    seed_all(setup.budget.seed)
    x, y = setup.data.take(max(4, setup.budget.probe_examples * 2))
    x, y = setup.prepare(x, y, train=False)
    fresh = _silenced(setup, setup.fresh_model(), x, y)
    trained = copy.deepcopy(setup.baseline().model)
    outlier = _silenced(setup, trained, x, _outliers(setup, trained, x, y))
    if fresh is None or outlier is None:
        return skip("the step's output gradients could not be matched to samples")
    silent, with_loss, worst = fresh[0] + outlier[0], fresh[1] + outlier[1], max(fresh[2], outlier[2])
    share = silent / max(1, with_loss)
    expected = "every sample with a loss gets a gradient"
    if silent:
        return verdict(
            "fail",
            share,
            expected,
            f"{silent} of {with_loss} samples with a loss (up to {fmt(worst)}) got exactly zero gradient at "
            f"the model output ({fresh[0]} at init, {outlier[0]} among deliberate outliers after training): "
            "the loss or the outputs are clamped, so these samples are silently ignored",
            "clip the gradient norm after backward (torch.nn.utils.clip_grad_norm_), not the loss or "
            "the outputs; use a Huber loss to tame outliers",
        )
    return verdict(
        "pass",
        share,
        expected,
        f"all {with_loss} samples with a loss got a gradient, at init and as outliers after training",
    )


@training_check(
    order=130,
    step="the neural net training fails silently",
    advice="e.g. 'you forgot to zero_grad before .backward()'",
)
def grad_accumulation(setup: Setup) -> Verdict:
    """Runs the user's step twice from the same state, once with the previous step's gradients left
    in place and once with them cleared: a different update means a missing ``zero_grad``.
    Options as `run_recipe`.

    Example:
        >>> r = checks.grad_accumulation(model_fn, (X, y), F.cross_entropy, train_step=my_step)  # doctest: +SKIP
        >>> r["status"][0]                                                                      # doctest: +SKIP
    """
    seed_all(setup.budget.seed)
    (x1, y1), (x2, y2) = _two(setup)
    model = setup.fresh_model()
    optimizer = setup.optimizer_fn(model)
    setup.step(model, optimizer, x1, y1)
    carried, cleared = copy.deepcopy((model, optimizer)), copy.deepcopy((model, optimizer))
    for p, pc, pz in zip(model.parameters(), carried[0].parameters(), cleared[0].parameters()):
        pc.grad = None if p.grad is None else p.grad.detach().clone()
        pz.grad = None
    seed_all(setup.budget.seed + 1)
    setup.step(carried[0], carried[1], x2, y2)
    seed_all(setup.budget.seed + 1)
    setup.step(cleared[0], cleared[1], x2, y2)
    worst, where = 0.0, ""
    for (name, pc), pz in zip(carried[0].named_parameters(), cleared[0].parameters()):
        diff = float((pc.detach() - pz.detach()).abs().max()) / (float(pz.detach().abs().max()) + 1e-12)
        if diff > worst:
            worst, where = diff, name
    expected = (
        f"the same update whatever gradients the previous step left (relative difference <= {ACCUMULATION_TOL:g})"
    )
    if worst > ACCUMULATION_TOL:
        return verdict(
            "fail",
            worst,
            expected,
            f"a step's update depends on the gradients the previous step left behind (`{where}` differs by "
            f"{worst:.2g} relative): gradients accumulate across steps",
            "call optimizer.zero_grad() in every step, before loss.backward()",
        )
    return verdict("pass", worst, expected, "each step starts from fresh gradients")


def _two(setup: Setup) -> list[Batch]:
    batches = setup.data.batches(2)
    if len(batches) == 1:
        batches = batches * 2
    return [setup.prepare(x, y, train=False) for x, y in batches]


@training_check(
    order=140,
    step="the neural net training fails silently",
    advice="'you forgot to flip the requires_grad flag' and the like",
)
def frozen_params(setup: Setup) -> Verdict:
    """Parameters that never change over the baseline run, named with the reason (requires_grad
    off, not in the optimizer, no gradient reaches them); ``frozen=("backbone.",)`` names deliberate
    freezes. Options as `run_recipe`.

    Example:
        >>> r = checks.frozen_params(model_fn, (X, y), F.cross_entropy, optimizer_fn=my_opt)  # doctest: +SKIP
        >>> r["message"][0]                                                                  # doctest: +SKIP
    """
    run = setup.baseline()
    deliberate = setup.frozen
    names = [
        n
        for n, p in run.model.named_parameters()
        if torch.equal(p.detach(), run.initial[n]) and not n.startswith(deliberate or ("\0",))
    ]
    assert run.watcher is not None  # the baseline run is watched
    got_grad = set(run.watcher.layers.filter(pl.col("grad_norm").is_not_null())["param"].unique().to_list())
    total = sum(1 for n, _ in run.model.named_parameters() if not n.startswith(deliberate or ("\0",)))
    reasons = frozen_reasons(run.model, run.optimizer, names, got_grad)
    return frozen_verdict(reasons, total, deliberate, len(run.losses))
