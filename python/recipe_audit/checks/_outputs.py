"""What the outputs mean for the task: priors, constant baselines, predicted labels, per-sample losses."""

from __future__ import annotations

import math
from dataclasses import dataclass

from recipe_audit.checks._torch import LossFn, nn, torch


@dataclass
class Target:
    """How outputs relate to targets: ``categorical`` (long labels over the last dim), ``bernoulli``
    (float 0/1 targets per output) or ``regression``."""

    kind: str
    priors: torch.Tensor  # categorical: [C]; bernoulli: [...] per output; regression: mean per output
    spread: torch.Tensor | None = None  # regression: std per output


_PASS_THROUGH = ("View", "Reshape", "Squeeze", "Unsqueeze", "Clone", "Expand", "Permute", "Transpose", "Alias")


def final_activation(out: torch.Tensor) -> str | None:
    """``softmax`` or ``sigmoid`` when the output's last operation (past reshapes) is one, from its
    autograd graph; None when it is not, or the output carries no graph."""
    node = getattr(out, "grad_fn", None)
    while node is not None:
        name = type(node).__name__
        if "LogSoftmax" in name:
            return "log_softmax"
        if "Softmax" in name:
            return "softmax"
        if "Sigmoid" in name:
            return "sigmoid"
        if not any(p in name for p in _PASS_THROUGH) or not node.next_functions:
            return None
        node = node.next_functions[0][0]
    return None


def is_probabilities(out: torch.Tensor, kind: str, activation: str | None = None) -> bool:
    """Whether outputs already are probabilities: softmax rows summing to 1 (or a final softmax),
    or a final sigmoid (values in [0, 1] alone could be small logits)."""
    if out.min() < 0 or out.max() > 1:
        return False
    if kind == "categorical":
        rows = out.sum(-1)
        return activation == "softmax" or (
            out.shape[-1] > 1 and bool(torch.allclose(rows, torch.ones_like(rows), atol=1e-3))
        )
    return kind == "bernoulli" and activation == "sigmoid"


def is_soft(task: str, out: torch.Tensor, y: torch.Tensor) -> bool:
    """Whether float targets are class distributions (mixup, smoothed labels): each sample's shaped like
    its outputs, non-negative, summing to 1 over the classes."""
    if task == "regression" or not y.is_floating_point() or y.dim() != out.dim() or y.shape[1:] != out.shape[1:]:
        return False
    if out.dim() < 2 or out.shape[-1] < 2 or not y.numel() or float(y.min()) < 0:
        return False
    return bool(torch.allclose(y.sum(-1), torch.ones_like(y.sum(-1)), atol=1e-3))


def hard_labels(task: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The labels to compare predictions with: the most likely class of soft targets, else the targets."""
    if is_soft(task, out, y):
        return y.argmax(-1)
    return y.long() if _float_class_ids(out, y) else y


def _float_class_ids(out: torch.Tensor, y: torch.Tensor) -> bool:
    """Whether floating-point targets are class ids: one whole, non-negative number per sample for
    outputs with several classes (Bernoulli targets have one value per output instead)."""
    return (
        y.is_floating_point()
        and out.dim() >= 2
        and out.shape[-1] > 1
        and y.dim() == out.dim() - 1
        and tuple(y.shape[1:]) == tuple(out.shape[1:-1])  # as many samples as it likes (all labels)
        and y.numel() > 0
        and bool(((y == y.round()) & (y >= 0)).all())
    )


def describe(task: str, out: torch.Tensor, y: torch.Tensor) -> Target:
    """The target kind and its statistics, from one batch of outputs and targets (soft targets, one
    distribution per sample, are categorical with their mean as priors)."""
    out, y = out.detach().float(), y.detach()
    if is_soft(task, out, y):
        return Target("categorical", y.float().reshape(-1, out.shape[-1]).mean(0))
    if task == "regression":
        per = math.prod(out.shape[1:])
        yf = y.float().reshape(-1, *out.shape[1:]) if per and y.numel() % per == 0 else y.float()
        dims = tuple(range(yf.dim() - 1)) if yf.dim() > 1 else (0,)
        return Target("regression", yf.mean(dims), yf.std(dims, unbiased=False))
    if _float_class_ids(out, y):  # 0., 1., 2. stored as floats: class ids all the same
        y = y.long()
    if not y.is_floating_point():
        classes = out.shape[-1]
        if int(y.max()) >= classes or int(y.min()) < 0:
            raise ValueError(
                f"a label is outside 0..{classes - 1} (the model has {classes} outputs): "
                f"labels span {int(y.min())}..{int(y.max())}"
            )
        counts = torch.bincount(y.reshape(-1).long().cpu(), minlength=classes).float()
        return Target("categorical", (counts / counts.sum()).to(out.device))
    yf = y.float().reshape(-1, *out.shape[1:])
    dims = tuple(range(yf.dim() - 1)) if yf.dim() > 1 else (0,)
    return Target("bernoulli", yf.mean(dims))


def constant_outputs(
    target: Target, out: torch.Tensor, activation: str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(the outputs of an uninformed net, of a net whose final bias is 'initialized well'), in the
    space the model outputs: logits, probabilities (a final softmax/sigmoid) or log-probabilities."""
    zeros = torch.zeros_like(out)
    eps = 1e-6
    if target.kind == "categorical":
        uniform, priors = zeros, torch.log(target.priors.clamp_min(eps)).expand_as(out).clone()
        if activation == "log_softmax":
            return uniform - math.log(out.shape[-1]), priors
        if is_probabilities(out, "categorical", activation):
            return uniform + 1 / out.shape[-1], priors.exp()
        return uniform, priors
    if target.kind == "bernoulli":
        p = target.priors.clamp(eps, 1 - eps)
        if is_probabilities(out, "bernoulli", activation):
            return zeros + 0.5, p.expand_as(out).clone()
        return zeros, torch.log(p / (1 - p)).expand_as(out).clone()
    return zeros, target.priors.reshape(-1).expand_as(out).clone() if out.dim() > 1 else target.priors.expand_as(
        out
    ).clone()


def mean_prediction(target: Target, out: torch.Tensor, activation: str | None = None) -> torch.Tensor:
    """The mean predicted distribution (categorical/bernoulli) or value (regression) over a batch."""
    out = out.detach().float()
    probs = is_probabilities(out, target.kind, activation)
    if target.kind == "categorical":
        p = out if probs else torch.softmax(out, -1)
        return p.reshape(-1, out.shape[-1]).mean(0)
    dims = tuple(range(out.dim() - 1)) if out.dim() > 1 else (0,)
    if target.kind == "bernoulli":
        return (out if probs else torch.sigmoid(out)).mean(dims)
    return out.mean(dims)


def predicted_labels(target: Target, out: torch.Tensor, activation: str | None = None) -> torch.Tensor:
    """Labels a classifier predicts (argmax; a threshold at 0 on logits, 0.5 after a sigmoid), or
    the regression values."""
    out = out.detach()
    if target.kind == "categorical":
        return out.argmax(-1)
    if target.kind == "bernoulli":
        return (out > (0.5 if is_probabilities(out, "bernoulli", activation) else 0.0)).to(out.dtype)
    return out


def per_sample_losses(loss_fn: LossFn, out: torch.Tensor, y: torch.Tensor) -> list[float]:
    """The loss of each sample alone (the user's `loss_fn` on one-sample slices)."""
    with torch.no_grad():
        return [float(loss_fn(out[i : i + 1], y[i : i + 1])) for i in range(out.shape[0])]


def final_bias(model: nn.Module, size: int) -> tuple[str, nn.Parameter] | None:
    """The last registered bias vector of length `size`: the output layer's, in the usual model."""
    found = None
    for name, p in model.named_parameters():
        if name.endswith("bias") and p.dim() == 1 and p.shape[0] == size:
            found = (name, p)
    return found


def agreement(task: str, out: torch.Tensor, y: torch.Tensor, activation: str | None = None) -> tuple[float, str]:
    """(share of the predictions read off `out` matching the labels, in words); for regression 1.0
    once R^2 >= 0.95, else R^2 (at least 0)."""
    target = describe(task, out, y)
    pred = predicted_labels(target, out, activation)
    y = hard_labels(task, out, y)
    if target.kind == "regression":
        yf = y.float().reshape(pred.shape)
        r2 = 1 - float(((pred - yf) ** 2).sum() / ((yf - yf.mean()) ** 2).sum().clamp_min(1e-12))
        return (1.0 if r2 >= 0.95 else max(r2, 0.0)), f"R^2 {r2:.3g}"
    share = float((pred.reshape(y.shape) == y).float().mean())
    return share, f"{share:.0%} of predictions match the labels"
