"""The lowest loss any model could reach on a batch: outputs optimized freely, one set per distinct input.

'Overfit one batch ... verify that we can reach the lowest achievable loss (e.g. zero)': the lowest
achievable loss is not always zero. Label smoothing or class weights move it; two identical inputs
with different labels (or, for next-token prediction, two sequences sharing a prefix but not the
next token) make it positive, and cap the share of predictions that can match. Free outputs tied
across identical inputs, minimized through the user's own loss, measure both. For
``task='sequence'`` "identical" means identical over what the model can see: the prefix for a
recurrent or attention model, the last few tokens for a causal convolution (its receptive field,
read off the gradients), so a short receptive field is not taken for a failure to fit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from recipe_audit.checks._torch import LossFn, backward, torch

STEPS = 400
"""Adam steps on the free outputs (cosine-decayed lr): enough for cross-entropy logits to reach ~1e-6."""


@dataclass(frozen=True)
class Optimum:
    """The lowest loss found, and the free outputs that reach it (to read the best predictions off)."""

    loss: float
    outputs: torch.Tensor


def _groups(
    x: torch.Tensor | None, task: str, out_shape: tuple[int, ...], visible: list[list[int]] | None = None
) -> tuple[torch.Tensor, tuple[int, ...]]:
    """(group id per output row, the shape of one row): rows with the same visible input share outputs;
    ``x=None``: one output vector for every position (the best constant prediction). For sequences,
    `visible[t]` lists the input positions output t can see (default 0..t: the whole prefix)."""
    if x is None:
        return torch.zeros(math.prod(out_shape[:-1]), dtype=torch.long), tuple(out_shape[-1:])
    if task == "sequence" and x.dim() == 2 and len(out_shape) >= 2 and out_shape[:2] == tuple(x.shape):
        keys: dict[tuple[tuple[int, int], ...], int] = {}
        ids = []
        for seq in x.tolist():
            for t in range(len(seq)):
                seen = visible[t] if visible is not None else range(t + 1)
                ids.append(keys.setdefault(tuple((s - t, seq[s]) for s in seen), len(keys)))
        return torch.tensor(ids, device=x.device), tuple(out_shape[2:])
    flat = x.reshape(len(x), -1)
    _, inverse = torch.unique(flat, dim=0, return_inverse=True)
    return inverse, tuple(out_shape[1:])


_SQUASH: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "softmax": lambda z: z.softmax(-1),
    "log_softmax": lambda z: z.log_softmax(-1),
    "sigmoid": lambda z: z.sigmoid(),
}


def _identity(z: torch.Tensor) -> torch.Tensor:
    return z


def lowest_loss(
    loss_fn: LossFn,
    x: torch.Tensor | None,
    y: torch.Tensor,
    out: torch.Tensor,
    task: str,
    activation: str | None = None,
    visible: list[list[int]] | None = None,
) -> Optimum | None:
    """The optimum of `loss_fn` over outputs shaped like `out` (passed through the model's final
    `activation`, so a softmax output is judged as one), tied across identical inputs (``x=None``: one
    vector for all; for sequences, positions tied by the inputs in `visible` reach, default the
    prefix); None when the loss cannot be differentiated with respect to free outputs."""
    ids, row = _groups(x, task, tuple(out.shape), visible)
    ids = ids.to(out.device)
    groups = int(ids.max()) + 1 if ids.numel() else 0
    scale = float(y.float().abs().max()) if y.is_floating_point() and y.numel() else 1.0
    free = torch.zeros((groups, *row), device=out.device, dtype=torch.float32, requires_grad=True)
    lr = 0.1 * max(1.0, scale)
    opt = torch.optim.Adam([free], lr=lr)
    best = math.inf
    squash = _SQUASH.get(activation or "", _identity)

    def outputs() -> torch.Tensor:
        return squash(free[ids]).reshape(out.shape).to(out.dtype)

    try:
        with torch.enable_grad():
            for i in range(STEPS):
                for g in opt.param_groups:
                    g["lr"] = lr * 0.5 * (1 + math.cos(math.pi * i / STEPS))
                opt.zero_grad()
                loss = loss_fn(outputs(), y)
                if not loss.requires_grad:
                    return None
                backward(loss)
                opt.step()
                best = min(best, float(loss.detach()))
            final = float(loss_fn(outputs(), y).detach())
    except (RuntimeError, TypeError, ValueError):
        return None
    if not math.isfinite(final):
        return None
    return Optimum(min(best, final), outputs().detach())
