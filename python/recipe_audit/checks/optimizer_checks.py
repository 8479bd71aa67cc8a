"""`weight_decay`: what the optimizer's weight decay does to the parameters that should not decay.

Practice leaves BatchNorm/LayerNorm scales and shifts and the biases out of weight decay: they do
not add capacity, and decaying them pulls normalised activations toward zero. How much decay a
setting means depends on the optimizer (decoupled in AdamW, divided by the gradient's scale in
Adam), so it is measured: the baseline run against the same run with every ``weight_decay`` set
to 0.
"""

from __future__ import annotations

from recipe_audit.checks._report import Verdict, fmt, skip, verdict
from recipe_audit.checks._runner import training_check
from recipe_audit.checks._setup import Setup
from recipe_audit.checks._torch import OptimizerFn, nn, torch

SHRINK_FAIL, SHRINK_WARN = 0.5, 0.8
"""A norm or bias parameter ending below this share of its size without decay fails / warns."""


def _norms() -> tuple[type[nn.Module], ...]:
    return (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm, nn.modules.instancenorm._InstanceNorm)


def _no_decay_names(model: nn.Module) -> list[str]:
    """Parameters practice keeps out of weight decay: biases and normalisation layers' scales and shifts."""
    names, norms = [], _norms()
    for mod_name, module in model.named_modules():
        for p_name, p in module.named_parameters(recurse=False):
            full = f"{mod_name}.{p_name}" if mod_name else p_name
            if p.requires_grad and (isinstance(module, norms) or p_name == "bias" or p.dim() <= 1):
                names.append(full)
    return names


def _without_decay(optimizer_fn: OptimizerFn) -> OptimizerFn:
    def make(model: nn.Module) -> torch.optim.Optimizer:
        opt = optimizer_fn(model)
        for group in opt.param_groups:
            if "weight_decay" in group:
                group["weight_decay"] = 0.0
        return opt

    return make


@training_check(
    order=240,
    step="regularize",
    advice="weight decay, but not on what practice leaves undecayed (biases, norm layers)",
)
def weight_decay(setup: Setup) -> Verdict:
    """Trains with `optimizer_fn` and with its weight decay set to 0: fails when the decay shrinks a
    bias or a normalisation layer's parameter below half its size without decay (a huge decay on
    parameters practice leaves undecayed). Options as `run_recipe`.

    Example:
        >>> adamw = lambda m: torch.optim.AdamW(m.parameters(), lr=1e-2, weight_decay=0.5)  # doctest: +SKIP
        >>> checks.weight_decay(model_fn, (X, y), F.cross_entropy, optimizer_fn=adamw)       # doctest: +SKIP
    """
    with torch.no_grad():
        probe = setup.optimizer_fn(setup.fresh_model())
    decays = [float(g.get("weight_decay", 0.0) or 0.0) for g in probe.param_groups]
    if not any(decays):
        return skip("the optimizer has no weight decay")
    base = setup.baseline()
    plain = setup.cached(
        "no_decay", lambda: setup.train(len(base.losses), optimizer_fn=_without_decay(setup.optimizer_fn))
    )
    decayed, free = dict(base.model.named_parameters()), dict(plain.model.named_parameters())
    ratios = {}
    for name in _no_decay_names(base.model):
        size = float(free[name].detach().norm())
        if size > 1e-8:
            ratios[name] = float(decayed[name].detach().norm()) / size
    if not ratios:
        return skip("no bias or normalisation parameter away from zero to measure")
    worst = min(ratios, key=ratios.__getitem__)
    shrunk = sorted((n for n, r in ratios.items() if r < SHRINK_WARN), key=ratios.__getitem__)
    expected = f"biases and norm parameters keep >= {SHRINK_WARN:.0%} of their size without decay"
    words = (
        f"weight decay {', '.join(fmt(d) for d in sorted(set(decays)))}: after {len(base.losses)} steps "
        f"`{worst}` is {ratios[worst]:.0%} of its size in the same run without decay"
    )
    hint = (
        "put biases and normalisation parameters in a param group with weight_decay=0, and keep the decay "
        "of the weights moderate (1e-4 .. 1e-1 with AdamW)"
    )
    if ratios[worst] < SHRINK_FAIL:
        return verdict(
            "fail",
            ratios[worst],
            expected,
            f"{words}; {len(shrunk)} bias/norm tensors shrunk below {SHRINK_WARN:.0%}: the decay, not the data, "
            "sets them",
            hint,
        )
    if shrunk:
        return verdict("warn", ratios[worst], expected, f"{words}; {len(shrunk)} shrunk below {SHRINK_WARN:.0%}", hint)
    return verdict("pass", ratios[worst], expected, words)
