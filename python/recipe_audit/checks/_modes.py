"""More ways inference and training drift apart, for `eval_mode`: a `predict` that does not use the
trained weights (an EMA or eval copy never updated), a step that trains in eval mode because
`predict` left the model there, and BatchNorm normalising micro-batches the step cut the batch into
(its training statistics then differ from the running ones used at evaluation)."""

from __future__ import annotations

from collections.abc import Callable

from recipe_audit.checks._outputs import agreement
from recipe_audit.checks._setup import Setup, default_predict
from recipe_audit.checks._torch import first_tensor, nn, torch

STALE_SHARE = 0.5
"""`predict` keeping more than this share of what training gained over the untrained model is stale."""
MIN_GAIN = 0.2
"""Gain in agreement with the labels, untrained to trained, below which staleness cannot be judged."""
BN_MIN = 8
"""Fewest samples a BatchNorm layer should normalise at a time in training."""


def stale_predict(setup: Setup, trained: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[str, float] | None:
    """(why, share of the gain lost) when `predict` on the trained model scores like the untrained one."""
    activation = setup.activation()
    fresh, _ = agreement(setup.task, setup.outputs(setup.fresh_model(), x), y, activation)
    own_outputs = first_tensor(default_predict(trained, x))
    if own_outputs is None:
        raise TypeError("the model returned no tensor")
    own, _ = agreement(setup.task, own_outputs, y, activation)
    given, _ = agreement(setup.task, setup.outputs(trained, x), y, activation)
    gain = own - fresh
    if gain < MIN_GAIN:
        return None
    lost = (own - given) / gain
    if lost <= STALE_SHARE:
        return None
    return (
        f"predict agrees with {given:.0%} of the labels where the trained model's own forward (eval mode) agrees "
        f"with {own:.0%} and the untrained model's predict with {fresh:.0%}: predict does not use the trained "
        "weights (an EMA or evaluation copy that never receives them?)",
        lost,
    )


def _eval_mode_in_step(
    setup: Setup, x: torch.Tensor, y: torch.Tensor, *, after_predict: bool
) -> tuple[list[str], nn.Module]:
    """(dropout/BatchNorm modules that ran in eval mode during one user step, the model)."""
    model = setup.fresh_model()
    modal = [
        (n, m)
        for n, m in model.named_modules()
        if isinstance(m, (nn.modules.dropout._DropoutNd, nn.modules.batchnorm._BatchNorm))
    ]
    if after_predict:
        setup.outputs(model, x)
    seen: list[str] = []

    def hook_for(name: str) -> Callable[[nn.Module, tuple[object, ...]], None]:
        def hook(mod: nn.Module, args: tuple[object, ...]) -> None:
            if not mod.training:
                seen.append(name)

        return hook

    handles = [m.register_forward_pre_hook(hook_for(n)) for n, m in modal]
    try:
        setup.step(model, setup.optimizer_fn(model), x, y)
    finally:
        for h in handles:
            h.remove()
    return seen, model


def trains_in_eval_mode(setup: Setup, x: torch.Tensor, y: torch.Tensor) -> str | None:
    """Why, when one user step right after a `predict` runs dropout/BatchNorm layers in eval mode that
    the same step on a fresh model runs in train mode (layers kept in eval mode on purpose, e.g. a
    frozen BatchNorm, are the same either way)."""
    seen, model = _eval_mode_in_step(setup, x, y, after_predict=True)
    if not seen:
        return None
    deliberate, _ = _eval_mode_in_step(setup, x, y, after_predict=False)
    drifted = [n for n in seen if n not in deliberate]
    if not drifted:
        return None
    kinds = sorted({type(dict(model.named_modules())[n]).__name__ for n in drifted})
    return (
        f"the training step right after a predict() ran {', '.join(kinds)} (`{drifted[0]}`) in eval mode: predict "
        "leaves the model in eval mode and the step does not call model.train()"
    )


def batchnorm_micro_batches(setup: Setup, x: torch.Tensor, y: torch.Tensor) -> str | None:
    """Why, when a BatchNorm layer sees fewer than `BN_MIN` samples at a time during one user step on a
    batch at least twice that size (the step splits the batch before the layer)."""
    model = setup.fresh_model()
    norms = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return None
    sizes: dict[str, int] = {}

    def hook_for(name: str) -> Callable[[nn.Module, tuple[object, ...]], None]:
        def hook(mod: nn.Module, args: tuple[object, ...]) -> None:
            first = args[0] if args else None
            if mod.training and isinstance(first, torch.Tensor):
                sizes[name] = min(sizes.get(name, 1 << 30), int(first.shape[0]))

        return hook

    handles = [m.register_forward_pre_hook(hook_for(n)) for n, m in norms]
    try:
        setup.step(model, setup.optimizer_fn(model), x, y)
    finally:
        for h in handles:
            h.remove()
    if not sizes:
        return None
    name = min(sizes, key=sizes.__getitem__)
    if sizes[name] >= BN_MIN or 2 * sizes[name] > len(x):
        return None
    return (
        f"BatchNorm `{name}` normalised only {sizes[name]} samples at a time in a training step on {len(x)} (the "
        "step splits the batch before it, e.g. into micro-batches for gradient accumulation): its batch "
        "statistics are noisy and differ from the running ones predict uses"
    )
