"""'Use backprop to chart dependencies': which inputs each output's gradient reaches.

The probe differentiates a random projection of one output with respect to the inputs (float
inputs directly; token ids through the output of the first ``nn.Embedding``). Layers that mix the
batch legitimately (BatchNorm in training mode) are put in eval mode, so they use their running
statistics; dropout is off. Everything else runs in training mode, as in the training step.
"""

from __future__ import annotations

from recipe_audit.checks._report import Verdict, skip, verdict
from recipe_audit.checks._runner import training_check
from recipe_audit.checks._setup import Setup, seed_all
from recipe_audit.checks._torch import nn, torch

LEAK_TOL = 1e-6
"""Share of gradient mass on inputs an output must not see, above which the check fails."""


def _probe_model(setup: Setup) -> nn.Module:
    model = setup.fresh_model()
    model.train()
    for module in model.modules():
        if isinstance(module, (nn.modules.batchnorm._BatchNorm, nn.modules.dropout._DropoutNd)):
            module.eval()
    return model


def _forward_with_handle(
    setup: Setup, model: nn.Module, x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor | None, str]:
    """(outputs, the tensor to differentiate against, what it is) or (outputs, None, why not)."""
    if x.is_floating_point():
        leaf = x.detach().clone().requires_grad_(True)
        return setup.forward(model, leaf), leaf, "the input"
    embedding = next((m for m in model.modules() if isinstance(m, nn.Embedding)), None)
    if embedding is None:
        return setup.forward(model, x), None, "the inputs are not floating point and the model has no nn.Embedding"
    captured: dict[str, torch.Tensor] = {}

    def hook(module: nn.Module, args: tuple[object, ...], out: torch.Tensor) -> torch.Tensor | None:
        if "e" in captured:
            return None
        captured["e"] = out.detach().requires_grad_(True)
        return captured["e"]

    handle = embedding.register_forward_hook(hook)
    try:
        out = setup.forward(model, x)
    finally:
        handle.remove()
    return out, captured.get("e"), "the embedding output"


def visible_inputs(setup: Setup, x: torch.Tensor) -> list[list[int]] | None:
    """For [B, T] tokens: the input positions each output position's gradient reaches on a fresh
    model (its receptive field), or None when it cannot be probed."""
    model = _probe_model(setup)
    out, wrt, _ = _forward_with_handle(setup, model, x)
    if wrt is None or out.dim() < 3 or wrt.dim() < 2 or out.shape[1] != wrt.shape[1]:
        return None
    g = torch.Generator().manual_seed(0)
    projection = torch.randn(out.shape, generator=g).to(out.device, out.dtype)
    seen = []
    for t in range(out.shape[1]):
        (grad,) = torch.autograd.grad((out[:, t] * projection[:, t]).sum(), wrt, retain_graph=True, allow_unused=True)
        if grad is None:
            return None
        dep = grad.abs().reshape(len(x), out.shape[1], -1).sum((0, 2))
        seen.append([s for s in range(out.shape[1]) if float(dep[s]) > 0])
    return seen


def _probe(setup: Setup) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor, str]:
    x, _ = setup.eval_batch()
    x = x[: max(2, setup.budget.probe_examples)]
    model = _probe_model(setup)
    out, wrt, what = _forward_with_handle(setup, model, x)
    if not out.is_floating_point():  # class ids, say: no gradient flows through them
        return out, None, out, f"the model's output is {out.dtype}, not floating point: no gradient to chart"
    seed_all(setup.budget.seed + 1)
    projection = torch.randn(out.shape, device=out.device, dtype=out.dtype)
    return out, wrt, projection, what


@training_check(
    order=80,
    step="use backprop to chart dependencies",
    advice="'check that you only get a non-zero gradient on the i-th input'",
)
def batch_independence(setup: Setup) -> Verdict:
    """The gradient of sample i's output reaches only input i (BatchNorm in eval mode): catches a
    view instead of a permute mixing samples. Options as `run_recipe`.

    Example:
        >>> r = checks.batch_independence(model_fn, (X, y), F.cross_entropy)   # doctest: +SKIP
        >>> r["message"][0]                                                    # doctest: +SKIP
    """
    out, wrt, projection, what = _probe(setup)
    if wrt is None:
        return skip(what)
    batch = out.shape[0]
    worst, pair, silent = 0.0, None, 0
    for i in range(batch):
        (grad,) = torch.autograd.grad((out[i] * projection[i]).sum(), wrt, retain_graph=True, allow_unused=True)
        if grad is None:
            silent += 1
            continue
        per = grad.reshape(batch, -1).abs().sum(1)
        total = float(per.sum())
        if total == 0:
            silent += 1
            continue
        others = per.clone()
        others[i] = 0
        share = float(others.sum()) / total
        if share > worst:
            worst, pair = share, (i, int(others.argmax()))
    expected = f"gradient share on other samples <= {LEAK_TOL:g}"
    if pair is not None and worst > LEAK_TOL:
        i, j = pair
        return verdict(
            "fail",
            worst,
            expected,
            f"the output of sample {i} depends on sample {j}'s input ({worst:.1%} of its gradient on other "
            f"samples, through {what}): the batch is mixed",
            "look for a .view()/.reshape() that should be a "
            ".permute()/.transpose() (e.g. [B, T, D] -> [T, B, D]), or a reduction over dim 0",
        )
    note = f"; {silent} outputs do not depend on any input" if silent else ""
    return verdict(
        "pass",
        worst,
        expected,
        f"each of {batch} outputs depends only on its own sample (through {what}; BatchNorm in eval mode){note}",
    )


SHIFT_SAME = 0.9
"""Share of positions whose target is the input token at the same position beyond which targets are unshifted."""


def _unshifted(setup: Setup) -> Verdict | None:
    """A failing verdict when next-token targets equal the inputs at the same positions (not shifted)."""
    x, y = setup.eval_batch()
    if x.shape != y.shape or x.is_floating_point() or y.is_floating_point() or x.shape[1] < 2:
        return None
    same = float((x == y).double().mean())
    next_token = float((x[:, 1:] == y[:, :-1]).double().mean())
    if same < SHIFT_SAME or same <= next_token:
        return None
    return verdict(
        "fail",
        same,
        "the target at t is the token at t+1",
        f"{same:.0%} of the targets equal the input token at the same position ({next_token:.0%} equal the next "
        "one): the next-token targets are not shifted, the model learns to copy its input",
        "targets = tokens[:, 1:], inputs = tokens[:, :-1] (the target at t is the token at t+1)",
    )


@training_check(
    order=90,
    step="use backprop to chart dependencies",
    advice="each output may depend only on the inputs it is allowed to see",
)
def causality(setup: Setup) -> Verdict:
    """For ``task='sequence'`` (tokens [B, T] -> logits [B, T, V]): the output at t depends on the
    inputs 0..t only, and on t itself. Catches a missing or shifted mask and causal-convolution
    padding on the wrong side; and next-token targets left unshifted (the target at t is the input
    token at t). Options as `run_recipe`.

    Example:
        >>> r = checks.causality(model_fn, (tokens, targets), loss, task="sequence")  # doctest: +SKIP
        >>> r["status"][0]                                                            # doctest: +SKIP
    """
    if setup.task != "sequence":
        return skip(f"task is {setup.task!r}; causality is checked for task='sequence'")
    unshifted = _unshifted(setup)
    if unshifted is not None:
        return unshifted
    out, wrt, projection, what = _probe(setup)
    if wrt is None:
        return skip(what)
    if out.dim() < 3 or wrt.dim() < 2 or out.shape[1] != wrt.shape[1]:
        return skip(f"outputs {tuple(out.shape)} and {what} {tuple(wrt.shape)} are not [B, T, ...] alike")
    batch, length = out.shape[0], out.shape[1]
    positions = range(length) if length <= 32 else [round(i * (length - 1) / 15) for i in range(16)]
    leaks, blind, worst = [], [], 0.0
    for t in positions:
        (grad,) = torch.autograd.grad((out[:, t] * projection[:, t]).sum(), wrt, retain_graph=True, allow_unused=True)
        if grad is None:
            blind.append(t)
            continue
        dep = grad.abs().reshape(batch, length, -1).sum((0, 2))
        total = float(dep.sum())
        future = float(dep[t + 1 :].sum()) / total if total > 0 else 0.0
        if future > LEAK_TOL:
            seen = [s for s in range(t + 1, length) if float(dep[s]) > 0]
            leaks.append((t, seen[-1]))
            worst = max(worst, future)
        if float(dep[t]) == 0:
            blind.append(t)
    expected = f"no gradient from output t to inputs after t (share <= {LEAK_TOL:g}); output t sees input t"
    if leaks:
        t, s = leaks[0]
        return verdict(
            "fail",
            worst,
            expected,
            f"{len(leaks)} of {len(positions)} positions see the future: the output at t={t} depends on "
            f"inputs up to t={s} (through {what})",
            "mask with torch.triu(ones(T, T), diagonal=1) (True = hidden) before softmax; pad causal "
            "convolutions on the left only (F.pad(x, (k - 1, 0)))",
        )
    if len(blind) == len(positions):
        return verdict(
            "fail",
            0.0,
            expected,
            "no output at t depends on the input at t: the mask or padding is shifted one step too far",
            "the diagonal must stay visible: output t predicts token t+1 from tokens 0..t",
        )
    return verdict(
        "pass", worst, expected, f"outputs at {len(positions)} positions depend on inputs 0..t only (through {what})"
    )
