"""Checks on a fresh model before any training: the loss at init, the output bias, the inputs."""

from __future__ import annotations

import math

from recipe_audit.checks._data import labels_of
from recipe_audit.checks._findings import input_verdict
from recipe_audit.checks._optimum import lowest_loss
from recipe_audit.checks._outputs import (
    constant_outputs,
    describe,
    final_activation,
    final_bias,
    is_probabilities,
    is_soft,
    mean_prediction,
)
from recipe_audit.checks._report import Verdict, fmt, verdict
from recipe_audit.checks._runner import training_check
from recipe_audit.checks._setup import Setup
from recipe_audit.checks._stats import channel_stats
from recipe_audit.checks._torch import F, nn, torch

HIGH_WARN, HIGH_FAIL = 1.25, 1.6
"""Loss at init over the uninformed net's loss (-log(1/C) for balanced classes) beyond which it warns / fails."""
KL_WARN, KL_FAIL = 0.1, 0.25
"""KL(label priors || mean prediction at init), nats: the loss wasted by a badly initialized output bias."""
Z_WARN, Z_FAIL = 0.5, 1.0
"""|mean prediction - target mean| / target std at init (regression)."""


def _init_outputs(setup: Setup) -> tuple[nn.Module, torch.Tensor, torch.Tensor, str | None]:
    """(fresh model, its outputs on the eval batch in train mode, targets, the final activation)."""
    x, y = setup.eval_batch()
    model = setup.fresh_model()
    model.train()
    out = setup.forward(model, x)
    return model, out.detach(), y, final_activation(out)


def _probabilities_misuse(
    kind: str, out: torch.Tensor, y: torch.Tensor, measured: float, activation: str | None
) -> str | None:
    """Why a loss on probability outputs is wrong, or None."""
    if not is_probabilities(out, kind, activation):
        return None

    def close(v: torch.Tensor) -> bool:
        return abs(measured - float(v)) <= 1e-4 * (1 + abs(float(v)))

    if kind == "categorical":
        soft = y.is_floating_point()
        flat = out.reshape(-1, out.shape[-1])
        labels = y.reshape(-1, out.shape[-1]) if soft else y.reshape(-1).long()
        if close(F.cross_entropy(flat, labels)):
            return "the model outputs probabilities (softmax) and the loss applies its own log-softmax: softmax twice"
        if not soft and close(F.nll_loss(flat, labels)):
            return "the model outputs probabilities and NLLLoss expects log-probabilities: the loss is -p, not -log p"
    elif close(F.binary_cross_entropy_with_logits(out, y.float().reshape(out.shape))):
        return "the model outputs probabilities (sigmoid) and the loss applies its own sigmoid: sigmoid twice"
    return None


SOFT_TOL = 0.02
"""Largest gap between soft targets and the loss's best prediction for them (a proper loss: none)."""


def _smoothed_again(setup: Setup, out: torch.Tensor, y: torch.Tensor, activation: str | None) -> str | None:
    """Why a loss handed soft targets is not lowest at the targets themselves (smoothing them again), or None."""
    if not is_soft(setup.task, out, y):
        return None
    x, _ = setup.eval_batch()
    n = min(32, len(x))
    best = lowest_loss(setup.loss_fn, x[:n], y[:n], out[:n], setup.task, activation)
    if best is None:
        return None
    p = best.outputs.float()
    p = p.exp() if activation == "log_softmax" else p if activation == "softmax" else p.softmax(-1)
    gap = float((p - y[:n].float()).abs().max())
    if gap <= SOFT_TOL:
        return None
    return (
        f"the targets are already distributions (largest class probability {fmt(float(y.max()))}) and the loss "
        f"is lowest at predictions {fmt(gap)} away from them (largest {fmt(float(p.max()))}): it smooths or "
        "reshapes them again (label smoothing applied twice?)"
    )


@training_check(
    order=20,
    step="verify loss @ init",
    advice="'you should measure -log(1/n_classes) on a softmax at initialization'",
)
def loss_at_init(setup: Setup) -> Verdict:
    """The loss of a fresh model against its expected value, two-sided and aware of class priors.

    Expected: between the loss of a net whose final bias is 'initialized well' (the entropy of the
    label priors; the target variance for L2) and the loss of an uninformed net (-log(1/C)). Fails
    far above it (logits scaled too large), below it (not a proper loss of these outputs), and on
    a loss applied to probabilities (softmax fed to a cross-entropy that applies its own). Options
    as `run_recipe`.

    Example:
        >>> r = checks.loss_at_init(lambda: nn.Linear(64, 10), (X, y), F.cross_entropy)  # doctest: +SKIP
        >>> r["status"][0], r["message"][0]                                                # doctest: +SKIP
    """
    _, out, y, activation = _init_outputs(setup)
    with torch.no_grad():
        measured = float(setup.loss_fn(out, y))
        target = describe(setup.task, out, y)
        plain, informed = constant_outputs(target, out, activation)
        uninformed_loss, informed_loss = float(setup.loss_fn(plain, y)), float(setup.loss_fn(informed, y))
    lo, hi = min(informed_loss, uninformed_loss), max(informed_loss, uninformed_loss)
    if target.kind == "categorical":
        basis = (
            f"uniform over {out.shape[-1]} classes: {fmt(uninformed_loss)} (-log(1/C) for cross-entropy); "
            f"the label priors: {fmt(informed_loss)} (their entropy)"
        )
    elif target.kind == "bernoulli":
        basis = f"p = 0.5: {fmt(uninformed_loss)} (log 2 per output); the priors: {fmt(informed_loss)} (their entropy)"
    else:
        basis = f"predicting 0: {fmt(uninformed_loss)}; predicting the target mean (its variance for L2): {fmt(informed_loss)}"
    expected = f"{fmt(lo * 0.8 - 0.05)} .. {fmt(hi * HIGH_WARN + 0.05)} ({basis})"
    message = f"loss at init {fmt(measured)}; expected between the informed and the uninformed net ({basis})"
    if not math.isfinite(measured):
        return verdict(
            "fail", measured, expected, f"the loss at init is {measured}", "see nan_inf for where it first appears"
        )
    again = _smoothed_again(setup, out, y, activation)
    if again:
        return verdict(
            "fail",
            measured,
            expected,
            f"{message}; {again}",
            "smooth the labels once: in the data (soft targets) or in the loss (label_smoothing=), not both",
        )
    misuse = _probabilities_misuse(target.kind, out, y, measured, activation)
    if misuse:
        return verdict(
            "fail",
            measured,
            expected,
            f"{message}; {misuse}",
            "return logits from the model and let the loss apply (log-)softmax, e.g. F.cross_entropy(logits, y)",
        )
    if measured > hi * HIGH_FAIL + 0.05:
        return verdict(
            "fail",
            measured,
            expected,
            f"{message}: far above, the outputs at init are too large (scaled logits or a large init)",
            "scale the final layer's weights down (e.g. by 0.01 or zero) so the first predictions are diffuse",
        )
    if measured > hi * HIGH_WARN + 0.05:
        return verdict(
            "warn",
            measured,
            expected,
            f"{message}: above the uninformed net",
            "shrink the final layer's init so the first predictions are diffuse",
        )
    if measured < lo * 0.8 - 0.05:
        return verdict(
            "fail",
            measured,
            expected,
            f"{message}: below what any constant prediction achieves, before training: the loss is not a "
            "proper loss of these outputs (a log missing?), or the targets leak into the inputs",
            "check the loss receives what it expects (logits for cross_entropy, log-probs for nll_loss)",
        )
    return verdict("pass", measured, expected, message)


def _loss_priors(setup: Setup, out: torch.Tensor, labels: torch.Tensor, activation: str | None) -> torch.Tensor | None:
    """The best constant prediction under the user's loss: a distribution for classification (the label
    priors for a plain cross-entropy; class weights, ignored ids and label smoothing move it), a value
    per output for regression (the mean for L2, the median for L1), or None."""
    shape = (len(labels), *out.shape[1:])
    best = lowest_loss(setup.loss_fn, None, labels, torch.zeros(shape, device=out.device), setup.task, activation)
    if best is None:
        return None
    first = best.outputs.reshape(-1, out.shape[-1])[0].float()
    if setup.task == "regression":
        return first
    if activation == "log_softmax":
        return first.exp()
    return first if activation == "softmax" else torch.softmax(first, -1)


@training_check(
    order=30,
    step="init well",
    advice="'initialize the final layer weights correctly', e.g. the bias to the mean or log(priors)",
)
def init_bias(setup: Setup) -> Verdict:
    """Initial predictions against the label priors (classification) or the target mean (regression),
    with the bias values to set. Options as `run_recipe`.

    Example:
        >>> r = checks.init_bias(model_fn, (X, y), F.cross_entropy)   # doctest: +SKIP
        >>> print(r["hint"][0])                                        # doctest: +SKIP
    """
    model, out, _, activation = _init_outputs(setup)
    labels = labels_of(setup.data).to(out.device)  # priors from up to 64 batches
    target = describe(setup.task, out, labels)
    counted: torch.Tensor | None = None
    if target.kind in ("categorical", "regression"):
        optimal = _loss_priors(setup, out, labels, activation)
        scale = target.spread.clamp_min(1e-12) if target.spread is not None else 1.0  # regression: its std
        if (
            optimal is not None
            and optimal.shape == target.priors.shape
            and float(((optimal - target.priors).abs() / scale).max()) > (0.1 if target.kind == "regression" else 0.02)
        ):
            counted, target.priors = target.priors, optimal
    mean_pred = mean_prediction(target, out, activation)
    bias = final_bias(model, out.shape[-1]) if out.dim() > 1 else final_bias(model, 1)
    bias_name = f"`{bias[0]}`" if bias else "the final layer's bias"
    if target.kind == "regression":
        assert target.spread is not None  # regression targets carry their std
        spread = target.spread.clamp_min(1e-12)
        z = float(((mean_pred - target.priors).abs() / spread).max())
        suggestion = (bias[1].detach() + (target.priors - mean_pred).reshape(bias[1].shape)) if bias else target.priors
        value, expected = z, f"|mean prediction - target mean| <= {Z_WARN} target std"
        aim = (
            "target mean"
            if counted is None
            else f"the loss's best constant (not the target mean {_vec(counted)}: an L1 loss aims at the median)"
        )
        detail = f"mean prediction {_vec(mean_pred)} vs {aim} {_vec(target.priors)} (std {_vec(target.spread)})"
        status = "fail" if z > Z_FAIL else "warn" if z > Z_WARN else "pass"
    else:
        p, q = target.priors, mean_pred.clamp_min(1e-12)
        if target.kind == "categorical":
            kl = float((p * (torch.log(p.clamp_min(1e-12)) - torch.log(q))).sum())
            suggestion = torch.log(p.clamp_min(1e-6))
        else:
            pc, qc = p.clamp(1e-6, 1 - 1e-6), q.clamp(1e-6, 1 - 1e-6)
            kl = float((pc * torch.log(pc / qc) + (1 - pc) * torch.log((1 - pc) / (1 - qc))).mean())
            suggestion = torch.log(pc / (1 - pc))
        value, expected = kl, f"KL(priors || mean prediction) <= {KL_WARN} nats"
        priors = (
            "label priors"
            if counted is None
            else f"the loss's best constant prediction (not the label priors {_vec(counted)}: weights, ignored "
            "labels or smoothing in the loss move it)"
        )
        detail = f"mean prediction {_vec(mean_pred)} vs {priors} {_vec(p)} (KL {fmt(kl)} nats)"
        status = "fail" if kl > KL_FAIL else "warn" if kl > KL_WARN else "pass"
    if status == "pass":
        return verdict("pass", value, expected, f"initial predictions match the targets: {detail}")
    return verdict(
        status,
        value,
        expected,
        f"initial predictions do not match the targets: {detail}",
        f"set {bias_name} to {_vec(suggestion)} at init"
        + (" (log of the priors)" if target.kind == "categorical" and counted is None else ""),
    )


def _vec(t: torch.Tensor) -> str:
    values = t.detach().reshape(-1).tolist()
    shown = ", ".join(f"{v:.3g}" for v in values[:10])
    return f"[{shown}{', ...' if len(values) > 10 else ''}]"


@training_check(
    order=40,
    step="visualize just before the net",
    advice="'the unambiguous source of truth is what goes into your network'",
)
def input_normalization(setup: Setup) -> Verdict:
    """Per-channel mean and std of what enters the net (after `augment` and `preprocess`): raw
    0-255 pixels or far-off channels fail. Options as `run_recipe`.

    Example:
        >>> r = checks.input_normalization(model_fn, (X * 255, y), F.cross_entropy)  # doctest: +SKIP
        >>> r["status"][0]                                                            # doctest: +SKIP
    """
    x, _ = setup.eval_batch()
    if not x.is_floating_point():
        return input_verdict(None, None)
    return input_verdict(channel_stats(x), setup.fresh_model())
