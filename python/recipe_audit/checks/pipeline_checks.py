"""Checks on the pieces around the net: the LR schedule, the augmentation, the inference function."""

from __future__ import annotations

import copy
import math
import warnings

from recipe_audit.checks._findings import lr_verdict
from recipe_audit.checks._modes import batchnorm_micro_batches, stale_predict, trains_in_eval_mode
from recipe_audit.checks._outputs import describe, hard_labels, predicted_labels
from recipe_audit.checks._report import Verdict, fmt, skip, verdict
from recipe_audit.checks._runner import training_check
from recipe_audit.checks._setup import Setup, seed_all
from recipe_audit.checks._torch import torch

EVAL_TOL = 1e-4
"""Largest relative difference between two evaluations of the same inputs."""
MAX_SCHEDULE_STEPS = 5_000_000
"""Longest schedule simulated step by step."""


@training_check(
    order=100,
    step="tune LR decay",
    advice="'be very careful with re-using the ImageNet decay; disable decays at first'",
)
def lr_schedule(setup: Setup) -> Verdict:
    """The user's `scheduler_fn` simulated over the planned run (`epochs` passes over `data`,
    stepped per ``scheduler_interval``, 'step' or 'epoch'): fails when the learning rate reaches
    ~0 (1e-3 x its peak) before half the run, warns before 80%. Options as `run_recipe`.

    Example:
        >>> sched = lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=30)       # doctest: +SKIP
        >>> checks.lr_schedule(model_fn, loader, F.cross_entropy, scheduler_fn=sched, epochs=30)  # doctest: +SKIP
    """
    if setup.scheduler_fn is None:
        return skip("no scheduler_fn: a constant learning rate (what the recipe advises at first)")
    if setup.epochs is None:
        return skip("pass epochs= (the planned length of the real run, in passes over data)")
    per_epoch = setup.data.batches_per_epoch()
    if not per_epoch:
        return skip("the data has no length, so the run's steps are unknown")
    total = math.ceil(setup.epochs * per_epoch)
    if total > MAX_SCHEDULE_STEPS:
        return skip(f"{total} steps is longer than the {MAX_SCHEDULE_STEPS} simulated")
    optimizer = setup.optimizer_fn(setup.fresh_model())
    scheduler = setup.scheduler_fn(optimizer)
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        return skip("ReduceLROnPlateau follows a metric: judge it on the real run with watch()")
    lrs: list[float] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scheduler.step() without optimizer.step(): intended here
        if setup.scheduler_interval == "step":
            for _ in range(total):
                lrs.append(float(optimizer.param_groups[0]["lr"]))
                scheduler.step()
        else:
            for _ in range(math.ceil(setup.epochs)):
                lrs.extend([float(optimizer.param_groups[0]["lr"])] * per_epoch)
                scheduler.step()
            lrs = lrs[:total]
    how = (
        f"{type(scheduler).__name__} stepped per {setup.scheduler_interval} over {setup.epochs:g} epochs "
        f"x {per_epoch} batches = {total} steps"
    )
    base = optimizer.param_groups[0].get("initial_lr")
    return lr_verdict(lrs, total, how, float(base) if base is not None else None)


@training_check(
    order=110,
    step="visualize just before the net",
    advice="decode what goes in, labels included, before trusting augmentation",
)
def augmentation_labels(setup: Setup) -> Verdict:
    """Whether `augment` keeps what the label means: a model trained without augmentation must
    agree with the augmented labels on changed samples above chance. Options as `run_recipe`.

    Example:
        >>> flip = lambda x, y: (x.flip(-1), y)                                          # doctest: +SKIP
        >>> checks.augmentation_labels(model_fn, (X, y), F.cross_entropy, augment=flip)  # doctest: +SKIP
    """
    if setup.augment is None:
        return skip("no augment: nothing to check")
    if setup.task == "sequence":
        return skip("sequence tasks are not checked")
    clean = setup.cached("clean", lambda: setup.train(setup.budget.steps, augment=False))
    seed_all(setup.budget.seed)
    x, y = setup.data.take(setup.budget.eval_examples)
    x, y = x.to(setup.device), y.to(setup.device)
    seed_all(setup.budget.seed)
    xa, ya = setup.augment(x.clone(), y.clone())
    pre = setup.preprocess or (lambda t: t)
    out_clean, out_aug = setup.outputs(clean.model, pre(x)), setup.outputs(clean.model, pre(xa))
    target = describe(setup.task, out_clean, y)
    if xa.shape == x.shape and ya.shape == y.shape:
        changed = (xa != x).reshape(len(x), -1).any(1) | (ya != y).reshape(len(y), -1).any(1)
    else:
        changed = torch.ones(len(xa), dtype=torch.bool, device=xa.device)
    n = int(changed.sum())
    if n == 0:
        return verdict("pass", 1.0, "", f"augment left all {len(x)} samples unchanged")
    expected = "a model trained without augmentation agrees with augmented labels about as well as with clean ones"
    if target.kind == "regression":
        pc, pa = out_clean.reshape(len(x), -1)[changed, 0], out_aug.reshape(len(xa), -1)[changed, 0]
        yc, yaf = y.float().reshape(len(y), -1)[changed, 0], ya.float().reshape(len(ya), -1)[changed, 0]
        before, after = _corr(pc, yc), _corr(pa, yaf)
        words = f"correlation of predictions with targets {fmt(before)} clean, {fmt(after)} augmented ({n} changed)"
        if before < 0.3:
            return skip(f"the clean model is too weak to judge ({words}): raise steps")
        bad, weak = after < 0, after < 0.5 * before
    else:
        activation = setup.activation()
        pred_c, pred_a = predicted_labels(target, out_clean, activation), predicted_labels(target, out_aug, activation)
        y, ya = hard_labels(setup.task, out_clean, y), hard_labels(setup.task, out_aug, ya)
        yc, yaf = y.reshape(pred_c.shape)[changed], ya.reshape(pred_a.shape)[changed]
        before = float((pred_c[changed] == yc).float().mean())
        after = float((pred_a[changed] == yaf).float().mean())
        chance = float(torch.unique(yaf, return_counts=True)[1].max()) / max(1, yaf.numel())
        words = (
            f"on {n} changed samples a model trained without augmentation agrees with {before:.0%} of the "
            f"clean labels and {after:.0%} of the augmented ones (chance {chance:.0%})"
        )
        if before < chance + 0.2 * (1 - chance):
            return skip(f"the clean model is too weak to judge ({words}): raise steps")
        bad, weak = after < chance and after < 0.5 * before, after < 0.5 * before
        words += _remap(pred_a[changed], yaf)
    value = after / before if before else float("nan")
    hint = (
        "an augmentation must keep the label's meaning: flip the label with the image (left <-> right), "
        "or drop that augmentation; decode a batch with show_batch(augment=...) to see it"
    )
    if bad:
        return verdict("fail", value, expected, f"{words}: the augmentation changes what the label means", hint)
    if weak:
        return verdict(
            "warn", value, expected, f"{words}: augmented samples are much harder; check they keep their labels", hint
        )
    return verdict("pass", value, expected, words)


def _corr(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.float() - a.float().mean(), b.float() - b.float().mean()
    den = float(a.norm() * b.norm())
    return float((a * b).sum()) / den if den > 0 else 0.0


def _remap(pred: torch.Tensor, labels: torch.Tensor) -> str:
    """The most common (label -> prediction) confusion among wrong predictions, in words."""
    wrong = pred != labels
    if not bool(wrong.any()):
        return ""
    pairs = torch.stack([labels[wrong].long(), pred[wrong].long()], 1)
    uniq, counts = torch.unique(pairs, dim=0, return_counts=True)
    top = int(counts.argmax())
    a, b = uniq[top].tolist()
    share = float(counts[top]) / max(1, int((labels == a).sum()))
    return f"; {share:.0%} of the augmented samples labelled {a} look like {b}"


@training_check(
    order=150,
    step="the neural net training fails silently",
    advice="'you forgot to set train/eval mode for BN'",
)
def eval_mode(setup: Setup) -> Verdict:
    """Through the user's `predict` on a briefly trained model: the same inputs give the same
    outputs twice, and alone or inside a larger batch; predict scores like the trained model's own
    forward (not like an untrained one: an EMA copy never updated); and a training step right after a
    predict still runs dropout/BatchNorm in train mode. Options as `run_recipe`.

    Example:
        >>> r = checks.eval_mode(model_fn, (X, y), F.cross_entropy, predict=lambda m, x: m(x))  # doctest: +SKIP
        >>> r["message"][0]   # 'dropout is active at evaluation'                              # doctest: +SKIP
    """
    model = copy.deepcopy(setup.baseline().model)
    x, _ = setup.eval_batch()
    x = x[: max(4, min(16, len(x)))]
    seed_all(setup.budget.seed)
    first, second = setup.outputs(model, x), setup.outputs(model, x)
    scale = float(first.detach().abs().max()) + 1e-6

    def rel(a: torch.Tensor, b: torch.Tensor) -> float:
        return float((a.detach() - b.detach()).abs().max()) / scale

    problems, value = [], 0.0
    random = rel(first, second) > EVAL_TOL
    if random:
        value = rel(first, second)
        problems.append(
            f"the same inputs give different outputs twice (max difference {value:.1%} of the "
            "output scale): dropout is active at evaluation"
        )
    try:
        alone = setup.outputs(model, x[:1])
        diff = rel(alone, first[:1])
    except Exception as err:
        problems.append(f"predict fails on a single sample ({type(err).__name__}: {err})")
        diff = 0.0
    half = setup.outputs(model, x[: len(x) // 2])
    diff = max(diff, rel(half, first[: len(x) // 2]))
    if diff > EVAL_TOL and not random:  # with dropout on, batch composition cannot be judged
        value = max(value, diff)
        problems.append(
            f"a sample's output changes with the rest of its batch (max difference {diff:.1%}): "
            "BatchNorm uses batch statistics at evaluation (or a layer mixes the batch: see batch_independence)"
        )
    x_all, y_all = setup.eval_batch()
    stale = stale_predict(setup, model, x_all, y_all)
    if stale is not None:
        problems.append(stale[0])
        value = max(value, stale[1])
    n = min(len(x_all), setup.budget.batch_size)
    mode = trains_in_eval_mode(setup, x_all[:n], y_all[:n])
    if mode is not None:
        problems.append(mode)
    micro = batchnorm_micro_batches(setup, x_all[:n], y_all[:n])
    if micro is not None:
        problems.append(micro)
    expected = (
        f"identical outputs (relative difference <= {EVAL_TOL:g}) twice, alone and in a batch; predict as good "
        "as the trained model; training steps in train mode"
    )
    if problems:
        return verdict(
            "fail",
            value,
            expected,
            "; ".join(problems),
            "call model.eval() (and torch.no_grad()) in predict, model.train() at the start of every step; "
            "predict with the weights you train (update the EMA copy after every optimizer step); keep BatchNorm "
            "micro-batches at 8+ samples (or use GroupNorm/LayerNorm when the step must split the batch)",
        )
    note = "; predict builds an autograd graph (wrap it in torch.no_grad())" if first.requires_grad else ""
    return verdict(
        "pass",
        value,
        expected,
        f"predict is deterministic and per-sample on {len(x)} inputs (twice, alone and in a batch), scores like "
        f"the trained model, and leaves training in train mode{note}",
    )
