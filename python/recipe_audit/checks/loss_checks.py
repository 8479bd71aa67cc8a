"""Checks on the loss function itself, read off its gradient with respect to free outputs.

Differentiating `loss_fn` at outputs that are all zero (uniform predictions) says how much each
sample, class and position counts, whatever the loss's code looks like: a sum instead of a mean,
class weights that favour the frequent classes, padding positions that count.
"""

from __future__ import annotations

import copy

from recipe_audit.checks._data import labels_of
from recipe_audit.checks._findings import loss_trend
from recipe_audit.checks._report import Verdict, fmt, skip, verdict
from recipe_audit.checks._runner import training_check
from recipe_audit.checks._setup import Setup
from recipe_audit.checks._torch import torch

WEIGHT_SPREAD = 1.5
"""Largest over smallest per-class weight beyond which the weights are judged against the frequencies."""
PAD_SHARE = 0.25
"""Share of sequences ending in a run of the same target token for it to count as padding."""


def _probe_outputs(setup: Setup) -> tuple[torch.Tensor, torch.Tensor]:
    """(zero outputs shaped like the model's on the eval batch, its targets)."""
    x, y = setup.eval_batch()
    with torch.no_grad():
        out = setup.forward(setup.fresh_model(), x)
    return torch.zeros_like(out, dtype=torch.float32), y


def _output_grad(setup: Setup, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    z = out.clone().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(setup.loss_fn(z, y), z)
    return grad


# -- loss_reduction -------------------------------------------------------------------------
def _update_scales(setup: Setup) -> bool:
    """Whether the optimizer's step grows with the gradient's scale (SGD) or not (Adam and kin)."""
    model = setup.fresh_model()
    small, large = copy.deepcopy(model), copy.deepcopy(model)
    moves: list[float] = []
    for m, scale in ((small, 1.0), (large, 32.0)):
        opt = setup.optimizer_fn(m)
        g = torch.Generator().manual_seed(0)
        for p in m.parameters():
            p.grad = torch.randn(p.shape, generator=g).to(p.device, p.dtype) * 1e-2 * scale
        before = [p.detach().clone() for p in m.parameters()]
        opt.step()
        moves.append(sum(float((p.detach() - b).abs().sum()) for p, b in zip(m.parameters(), before)))
    return moves[1] > 4 * moves[0]


@training_check(
    order=210,
    step="the neural net training fails silently",
    advice="a summed loss changes what the learning rate means",
)
def loss_reduction(setup: Setup) -> Verdict:
    """Whether `loss_fn` sums over the batch (a batch's loss equals the sum of its halves') while the
    optimizer's step scales with the gradient (SGD): the learning rate then means batch-size times
    more than with a mean. Fails when the baseline run then does not train (the lr was tuned for a
    mean), warns when it does (was it tuned for the sum?). Options as `run_recipe`.

    Example:
        >>> summed = lambda out, y: F.cross_entropy(out, y, reduction="sum")                  # doctest: +SKIP
        >>> checks.loss_reduction(model_fn, (X, y), summed, optimizer_fn=lambda m: SGD(...))  # doctest: +SKIP
    """
    x, y = setup.eval_batch()
    n = len(x) - len(x) % 2
    if n < 4:
        return skip("the evaluation batch has fewer than 4 samples")
    with torch.no_grad():  # a fresh model's own outputs: in the space the loss expects (logits, probabilities)
        out = setup.forward(setup.fresh_model().eval(), x[:n])
    y = y[:n]
    with torch.no_grad():
        full = float(setup.loss_fn(out, y))
        halves = float(setup.loss_fn(out[: n // 2], y[: n // 2])) + float(setup.loss_fn(out[n // 2 :], y[n // 2 :]))
    if abs(full) < 1e-12:
        return skip("the loss of a fresh model is 0")
    expected = "the loss of a batch is a mean over its samples (the same scale for any batch size)"
    summed = abs(full - halves) <= 1e-4 * abs(full)
    words = f"loss of {n} samples {fmt(full)}, sum of its two halves' losses {fmt(halves)}"
    if not summed:
        return verdict("pass", full / halves, expected, f"{words}: averaged, not summed")
    if not _update_scales(setup):
        return verdict(
            "pass",
            full / halves,
            expected,
            f"{words}: the loss is a sum over the batch, but the optimizer's step does not scale with the "
            "gradient (Adam-like), so the learning rate holds",
        )
    trend = loss_trend(setup.baseline().losses, 0.95, 0.8)
    scaled = (
        "the loss is a sum over the batch and the optimizer's step grows with it: the effective learning "
        "rate is batch-size times the one a mean would take"
    )
    hint = "use reduction='mean' (or divide by the batch size), or retune the learning rate for the sum"
    if trend.status == "pass":  # the run trains at this lr: the lr may well have been tuned for the sum
        return verdict(
            "warn",
            full / halves,
            expected,
            f"{words}: {scaled}; training still decreases ({trend.message}), so check the lr was tuned for the sum",
            hint,
        )
    return verdict("fail", full / halves, expected, f"{words}: {scaled}, and training suffers ({trend.message})", hint)


# -- class_weights --------------------------------------------------------------------------
@training_check(
    order=220,
    step="the neural net training fails silently",
    advice="check the loss weighs what you meant it to",
)
def class_weights(setup: Setup) -> Verdict:
    """How much `loss_fn` weighs each class (its gradient at uniform predictions), against the class
    frequencies: fails when the weights rise with frequency (inverted weights). Options as `run_recipe`.

    Example:
        >>> weighted = lambda out, y: F.cross_entropy(out, y, weight=w)   # doctest: +SKIP
        >>> checks.class_weights(model_fn, (X, y), weighted)               # doctest: +SKIP
    """
    out, y = _probe_outputs(setup)
    if y.is_floating_point() or out.dim() < 2 or setup.task == "regression":
        return skip("not a classification with integer labels")
    classes = out.shape[-1]
    grad = _output_grad(setup, out, y).reshape(-1, classes).norm(dim=1)
    labels = y.reshape(-1).long()
    if len(labels) != len(grad):
        return skip("the targets do not line up with the outputs' positions")
    freq = torch.bincount(labels_of(setup.data).reshape(-1).long().cpu(), minlength=classes).double()
    present = [c for c in range(classes) if bool((labels == c).any()) and float(freq[c]) > 0]
    weight = {c: float(grad[labels == c].mean()) for c in present}
    present = [c for c in present if weight[c] > 0]  # ignored classes (padding) are padding_loss's business
    if len(present) < 2:
        return skip("fewer than two weighted classes in the evaluation batch")
    w = torch.tensor([weight[c] for c in present], dtype=torch.float64)
    f = torch.tensor([float(freq[c]) for c in present], dtype=torch.float64)
    spread = float(w.max() / w.min())
    corr = float(torch.corrcoef(torch.stack([w.log(), f.log()]))[0, 1]) if float(f.std()) > 0 else 0.0
    expected = "class weights do not rise with class frequency"
    words = (
        f"per-class weight of the loss (its gradient at uniform predictions) from {fmt(float(w.min()))} to "
        f"{fmt(float(w.max()))} (x{fmt(spread)}), correlation with log frequency {fmt(corr)}"
    )
    if spread > WEIGHT_SPREAD and corr > 0.5:
        top = present[int(w.argmax())]
        return verdict(
            "fail",
            corr,
            expected,
            f"{words}: the weights favour the frequent classes (class {top}, {fmt(float(freq[top] / freq.sum()))} "
            "of the labels, weighs most): inverted class weights?",
            "weight each class by 1 / its frequency (e.g. n / (C * count)), not by its frequency",
        )
    return verdict("pass", corr, expected, words)


# -- padding_loss ---------------------------------------------------------------------------
def _trailing_pad(y: torch.Tensor) -> tuple[int, torch.Tensor] | None:
    """(the padding id, mask of padded positions) for [B, T] targets right-padded with one id, or None:
    the id ending 25%+ of the sequences in runs of varying length, and found nowhere else."""
    last = y[:, -1]
    pad = int(torch.mode(last).values)
    runs = torch.zeros(len(y), dtype=torch.long)
    for b in range(len(y)):
        k = 0
        while k < y.shape[1] and int(y[b, -1 - k]) == pad:
            k += 1
        runs[b] = k
    padded = runs >= 2
    if float(padded.double().mean()) < PAD_SHARE or len(torch.unique(runs[padded])) < 2:
        return None
    mask = torch.arange(y.shape[1]).expand_as(y) >= (y.shape[1] - runs).unsqueeze(1)
    if bool((y[~mask] == pad).any()):  # a real token that also ends sequences (an absorbing state), not padding
        return None
    return pad, mask


@training_check(
    order=230,
    step="the neural net training fails silently",
    advice="padding must not count in the loss",
)
def padding_loss(setup: Setup) -> Verdict:
    """For ``task='sequence'``: finds a padding id (one target id filling the ends of sequences of
    varying length) and fails when `loss_fn` gives those positions a gradient. Options as `run_recipe`.

    Example:
        >>> r = checks.padding_loss(lm_fn, (tokens, targets), loss, task="sequence")   # doctest: +SKIP
        >>> r["hint"][0]   # 'pass ignore_index=...'                                  # doctest: +SKIP
    """
    if setup.task != "sequence":
        return skip("padding is checked for task='sequence'")
    out, y = _probe_outputs(setup)
    if y.dim() != 2 or y.is_floating_point() or out.shape[:2] != y.shape:
        return skip("the targets are not [B, T] token ids lined up with the outputs")
    padding = _trailing_pad(y.cpu())
    if padding is None:
        return verdict(
            "pass",
            0.0,
            "padded positions get no gradient",
            "no padding found (no target id fills the ends of sequences of varying length)",
        )
    pad, mask = padding
    grad = _output_grad(setup, out, y).reshape(y.shape[0], y.shape[1], -1).norm(dim=-1).cpu()
    on_pad, on_tokens = float(grad[mask].mean()), float(grad[~mask].mean()) if bool((~mask).any()) else 0.0
    share = float(mask.double().mean())
    ratio = on_pad / on_tokens if on_tokens > 0 else float("inf")
    expected = "padded positions get no gradient"
    words = (
        f"target id {pad} pads {share:.0%} of the positions (runs of varying length at the ends); gradient per "
        f"padded position {fmt(on_pad)} vs {fmt(on_tokens)} per real one"
    )
    if ratio > 1e-3:
        return verdict(
            "fail",
            ratio,
            expected,
            f"{words}: the padding positions count in the loss, so the model learns to predict padding and "
            "the loss mostly measures it",
            f"pass ignore_index={pad} to the cross-entropy (or mask the padded positions out of the mean)",
        )
    return verdict("pass", ratio, expected, words)
