"""The training-check zoo run through recipe_audit.checks, neural_net_checklist, torchtest and
PyTorch Lightning's built-ins, side by side.

    python -m benches.studies.checks_compare [--half tuning|held-out|all] [--json out.json] [--only NAME_PART ...]
    python -m benches.studies.checks_compare --timing                                   # run_recipe wall time

The zoo is tests/checks/checks_zoo.py (31 cases) and tests/checks/checks_zoo_grown.py (24 more, `HELD_OUT` = every
second one of those, and 2 late ones). The tuning half is the 31, the other 12 grown cases and the 2
late ones; totals are printed per half, labelled. For every zoo case (a buggy set-up and its correct twin) each tool gets the
same model factory, data, loss, optimizer, step, scheduler and augmentation as far as its API can
take them:
- recipe_audit: the check named for the bug on the bug; `run_recipe` on the bug (every check that
  fires) and on the twin (false alarms).
- neural_net_checklist 1.1.0 (installed with --no-deps: its metadata pulls torch>=2.4 with CUDA and
  torchvision, its code imports only torch, numpy, tqdm, PIL): each assertion of
  `assert_all_for_classification_cross_entropy_loss` / `..._causal_llm_...` run separately on
  the first 32 prepared samples (overfit: the first 8, at most 10,000 steps instead of 65,536, to
  its loss threshold 1e-4; 0.1 for sequences). Its API has no
  place for a train step, a predict, an augmentation, a scheduler or a data pipeline.
- torchtest 0.5: `test_suite(..., test_vars_change=True, test_nan_vals=True, test_inf_vals=True)`
  with the case's own optimizer, one step on the first batch. No place for step/predict/pipeline.
- Lightning 2.x built-ins: the case as a LightningModule (automatic optimization, or manual with
  the case's own train_step), `Trainer(detect_anomaly=True)`, `EarlyStopping(check_finite=True)`
  on the logged training loss, 100 steps (5 epochs of 20 batches at most: a manual step that never
  calls optimizer.step() never advances Lightning's step count); caught = fit raised or
  EarlyStopping stopped on a non-finite loss.
  Bugs its own loop makes impossible (zero_grad, optimizer.step, eval mode in trainer.predict)
  are marked "by design" in the notes.
A bug counts as caught when the tool flags the bug and not its twin (an assertion that fires on
both tells nothing). Prints a markdown table; wall time per tool in the last line.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("TQDM_DISABLE", "1")

import torch
from torch.utils.data import DataLoader, TensorDataset

from recipe_audit import checks
from recipe_audit.checks._setup import make_setup, seed_all

from tests.checks import checks_zoo as zoo
from tests.checks import checks_zoo_grown as grown

BY_DESIGN = {  # bugs a LightningModule with automatic optimization cannot contain
    "zero_grad missing": "Lightning's loop zeroes grads (automatic optimization)",
    "optimizer.step() missing": "Lightning's loop steps (automatic optimization)",
    "dropout active at eval": "trainer.predict/validate call model.eval()",
    "batchnorm in train mode at eval": "trainer.predict/validate call model.eval()",
    "zero_grad() between backward() and step()": "Lightning's loop orders zero_grad/backward/step (automatic optimization)",
    "step trains in eval mode after predict": "Lightning's fit loop calls model.train() (automatic optimization)",
}
ALL_CASES = zoo.CASES + grown.GROWN_CASES + grown.LATE_CASES


def half_of(case: zoo.Case) -> str:
    return "held-out" if case.name in grown.HELD_OUT else "tuning"


def _kwargs(build: dict[str, Any]) -> tuple[Any, Any, Any, dict[str, Any]]:
    b = dict(build)
    return b.pop("model_fn"), b.pop("data"), b.pop("loss_fn"), b


def _first_batch(build: dict[str, Any], n: int = 32) -> tuple[Any, Any, Any]:
    model_fn, data, loss_fn, opts = _kwargs(build)
    setup = make_setup(model_fn, data, loss_fn, dict(opts))
    seed_all(0)
    x, y = setup.prepare(*setup.data.take(n), train=False)
    return setup, x, y


# -- recipe_audit ---------------------------------------------------------------------------
def run_recipe_audit(case: zoo.Case) -> dict[str, Any]:
    model_fn, data, loss_fn, opts = _kwargs(case.bug())
    named = getattr(checks, case.check)(model_fn, data, loss_fn, **opts).row(0, named=True)
    bug_all = checks.run_recipe(*_kwargs(case.bug())[:3], **_kwargs(case.bug())[3])
    twin = checks.run_recipe(*_kwargs(case.twin())[:3], **_kwargs(case.twin())[3])
    return {
        "caught": named["status"] in ("fail", "warn"),
        "verdict": f"{case.check}: {named['status']}",
        "also": [c for c in bug_all.filter(status="fail")["check"].to_list() if c != case.check],
        "false_alarms": twin.filter(status="fail")["check"].to_list(),
    }


# -- neural_net_checklist --------------------------------------------------------------------
def _nnc_assertions(case: zoo.Case, build: dict[str, Any]) -> list[str]:
    import neural_net_checklist.torch_diagnostics as nnc

    setup, x, y = _first_batch(build)
    if setup.task == "regression":
        return ["n/a (no regression suite)"]
    factory = setup.model_fn
    batch = (x, y)
    fired = []
    sequence = setup.task == "sequence"
    classes = int(setup.fresh_model()(x[:2]).shape[-1])
    if sequence:
        name, emb = next((n, m) for n, m in factory().named_modules() if isinstance(m, torch.nn.Embedding))
        x1h = torch.nn.functional.one_hot(x, num_classes=emb.num_embeddings).float()
        factory = nnc.replace_input_embedding_layer(setup.model_fn, name)
        batch = (x1h, y)
    loss_fn = setup.loss_fn
    tests = [
        (
            "loss_at_init",
            lambda: nnc.assert_balanced_classification_cross_entropy_loss_at_init(
                factory(), batch, num_classes=classes, loss_fn=loss_fn
            ),
        ),
        (
            "init_calibrated",
            lambda: nnc.assert_balanced_classification_cross_entropy_init_calibrated(
                factory(), batch, num_classes=classes
            ),
        ),
        ("forward_batch_independence", lambda: nnc.assert_forward_batch_independence(factory, batch)),
        ("non_zero_gradients", lambda: nnc.assert_non_zero_gradients(factory(), batch)),
        ("backward_batch_independence", lambda: nnc.assert_backward_batch_independence(factory, batch)),
        (
            "input_independent_baseline_worse",
            lambda: nnc.assert_input_independent_baseline_worse(factory, batch, loss_fn=loss_fn),
        ),
        (
            "overfit_to_batch",
            lambda: nnc.assert_overfit_to_batch(
                factory(),
                (batch[0][:8], batch[1][:8]),
                loss_fn=loss_fn,
                max_steps=10_000,
                **({"threshold": 1e-1} if sequence else {}),
            ),
        ),
    ]
    if sequence:
        tests[3:3] = [
            ("forward_causal", lambda: nnc.assert_forward_causal_property(factory, batch)),
            ("backward_causal", lambda: nnc.assert_backward_causal_property(factory, batch)),
        ]
    for name, test in tests:
        seed_all(0)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                test()
        except Exception as err:
            fired.append(name if isinstance(err, AssertionError) else f"{name} (crash: {type(err).__name__})")
    return fired


def run_nnc(case: zoo.Case) -> dict[str, Any]:
    try:
        import neural_net_checklist.torch_diagnostics  # noqa: F401
    except ImportError:
        return {"caught": None, "verdict": "not installed", "false_alarms": []}
    bug = _nnc_assertions(case, case.bug())
    if bug == ["n/a (no regression suite)"]:
        return {"caught": None, "verdict": bug[0], "false_alarms": []}
    twin = _nnc_assertions(case, case.twin())
    only_bug = [a for a in bug if a not in twin]  # an assertion that also fires on the twin tells nothing
    return {"caught": bool(only_bug), "verdict": ", ".join(bug) or "-", "false_alarms": twin}


# -- torchtest ------------------------------------------------------------------------------
def _torchtest(build: dict[str, Any]) -> list[str]:
    import torchtest

    setup, x, y = _first_batch(build)
    model = setup.fresh_model()
    optimizer = setup.optimizer_fn(model)
    try:
        torchtest.test_suite(
            model, setup.loss_fn, optimizer, [x, y], test_vars_change=True, test_nan_vals=True, test_inf_vals=True
        )
    except Exception as err:
        return [f"{type(err).__name__}: {str(err)[:60]}"]
    return []


def run_torchtest(case: zoo.Case) -> dict[str, Any]:
    try:
        import torchtest  # noqa: F401
    except ImportError:
        return {"caught": None, "verdict": "not installed", "false_alarms": []}
    bug, twin = _torchtest(case.bug()), _torchtest(case.twin())
    return {"caught": bool(bug) and bug != twin, "verdict": "; ".join(bug) or "-", "false_alarms": twin}


# -- Lightning ------------------------------------------------------------------------------
def _lightning(build: dict[str, Any]) -> str:
    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping

    model_fn, data, loss_fn, opts = _kwargs(build)
    setup = make_setup(model_fn, data, loss_fn, dict(opts))

    class CaseModule(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.model = setup.fresh_model()
            self.automatic_optimization = setup.train_step is None

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            x, y = setup.prepare(*batch, train=True)
            if self.automatic_optimization:
                loss = setup.loss_fn(self.model(x), y)
                self.log("train_loss", loss)
                return loss
            value = setup.train_step(self.model, self.optimizers(), x, y)
            self.log("train_loss", float(value))
            return None

        def configure_optimizers(self) -> Any:
            opt = setup.optimizer_fn(self.model)
            if setup.scheduler_fn is None:
                return opt
            return {
                "optimizer": opt,
                "lr_scheduler": {"scheduler": setup.scheduler_fn(opt), "interval": setup.scheduler_interval},
            }

    pipeline = setup.data.fresh()
    if isinstance(pipeline, list):  # a factory of batches: the same batches, in their order
        pipeline = DataLoader(
            TensorDataset(torch.cat([b[0] for b in pipeline]), torch.cat([b[1] for b in pipeline])),
            batch_size=len(pipeline[0][0]),
            shuffle=False,
        )
    elif not isinstance(pipeline, DataLoader):
        pipeline = DataLoader(TensorDataset(pipeline.x, pipeline.y), batch_size=32, shuffle=True)
    stopper = EarlyStopping(monitor="train_loss", check_finite=True, patience=10**6, check_on_train_epoch_end=True)
    trainer = L.Trainer(
        max_steps=100,
        max_epochs=5,
        detect_anomaly=True,
        callbacks=[stopper],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        devices=1,
        limit_train_batches=20,
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trainer.fit(CaseModule(), pipeline)
    except Exception as err:
        return f"{type(err).__name__}: {str(err).splitlines()[0][:60]}"
    if stopper.stopping_reason_message:  # EarlyStopping(check_finite=True) fired
        return f"EarlyStopping: {stopper.stopping_reason_message.splitlines()[0][:60]}"
    return ""


def run_lightning(case: zoo.Case) -> dict[str, Any]:
    try:
        import lightning  # noqa: F401
    except ImportError:
        return {"caught": None, "verdict": "not installed", "false_alarms": []}
    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    bug = _lightning(case.bug())
    twin = _lightning(case.twin())
    verdict = bug or "-"
    if case.name in BY_DESIGN:
        verdict += f" (prevented by design: {BY_DESIGN[case.name]})"
    return {"caught": bool(bug) and not twin, "verdict": verdict, "false_alarms": [twin] if twin else []}


def small_cnn() -> torch.nn.Module:
    """A small CNN on the 8x8 digits (flat inputs reshaped inside): conv-BN-ReLU x2, pool, linear."""
    nn = torch.nn
    return nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),
        nn.Conv2d(1, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(128, 10),
    )


def time_recipe(repeats: int = 3) -> None:
    """Wall time of the whole `run_recipe` (every check, default Budget) on five small set-ups."""
    setups = {
        "MLP 64-32-10, digits": (zoo.mlp, zoo.normalized_digits(), torch.nn.functional.cross_entropy, {}),
        "CNN 2 conv + BN, digits": (small_cnn, zoo.normalized_digits(), torch.nn.functional.cross_entropy, {}),
        "1-layer attention, sequences": (
            lambda: zoo.TinyAttention(1),
            zoo.counting(),
            zoo.seq_loss,
            {"task": "sequence"},
        ),
        "causal conv LM, 16 tokens over 8": (grown.ConvLM, grown.strided(), grown.seq_ce, {"task": "sequence"}),
        "attention LM, 16 tokens over 8": (grown.AttentionLM, grown.strided(), grown.seq_ce, {"task": "sequence"}),
    }
    print("| set-up | threads | best s | median s | failed checks |")
    print("|---|---:|---:|---:|---|")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        checks.run_recipe(zoo.mlp, zoo.normalized_digits(), torch.nn.functional.cross_entropy, seed=0)  # warm-up
        for name, (model_fn, data, loss_fn, opts) in setups.items():
            times, failed = [], []
            for _ in range(repeats):
                start = time.perf_counter()
                report = checks.run_recipe(model_fn, data, loss_fn, seed=0, **opts)  # programs that seed at start
                times.append(time.perf_counter() - start)
                failed = report.filter(status="fail")["check"].to_list()
            times.sort()
            print(
                f"| {name} | {threads} | {times[0]:.2f} | {times[len(times) // 2]:.2f} | {', '.join(failed) or '-'} |"
            )


TOOLS = {
    "recipe_audit": run_recipe_audit,
    "neural_net_checklist": run_nnc,
    "torchtest": run_torchtest,
    "lightning": run_lightning,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--only", nargs="*", default=[])
    parser.add_argument("--timing", action="store_true", help="time the whole recipe instead")
    parser.add_argument("--half", choices=("tuning", "held-out", "all"), default="all")
    parser.add_argument("--tools", nargs="*", default=list(TOOLS), choices=list(TOOLS))
    args = parser.parse_args()
    if args.timing:
        time_recipe()
        return
    torch.set_num_threads(1)
    cases = [
        c
        for c in ALL_CASES
        if (not args.only or any(o in c.name for o in args.only)) and args.half in ("all", half_of(c))
    ]
    tools = {t: TOOLS[t] for t in args.tools}
    results: dict[str, dict[str, Any]] = {}
    seconds = {t: {"tuning": 0.0, "held-out": 0.0} for t in tools}
    slowest = {t: {"tuning": (0.0, ""), "held-out": (0.0, "")} for t in tools}
    for case in cases:
        results[case.name] = {"check": case.check, "half": half_of(case)}
        for tool, run in tools.items():
            start = time.perf_counter()
            results[case.name][tool] = run(case)
            took = time.perf_counter() - start
            results[case.name][tool]["seconds"] = round(took, 2)
            seconds[tool][half_of(case)] += took
            slowest[tool][half_of(case)] = max(slowest[tool][half_of(case)], (took, case.name))
        print(f"done: {case.name}", file=sys.stderr)
    print("| half | bug (named check) | " + " | ".join(tools) + " |")
    print("|---|---|" + "---|" * len(tools))
    mark = {True: "**caught**", False: "missed", None: "n/a"}
    for name, r in results.items():
        cells = []
        for tool in tools:
            t = r[tool]
            cell = f"{mark[t['caught']]}: {t['verdict']}" if t["caught"] is not None else t["verdict"]
            if t.get("also"):
                cell += f" (also {', '.join(t['also'])})"
            if t["false_alarms"]:
                cell += f"; twin flagged: {', '.join(t['false_alarms'])}"
            cells.append(cell.replace("|", "/"))
        print(f"| {r['half']} | {name} (`{r['check']}`) | " + " | ".join(cells) + " |")
    for half in ("tuning", "held-out"):
        part = [r for r in results.values() if r["half"] == half]
        if not part:
            continue
        totals = []
        for tool in tools:
            caught = sum(1 for r in part if r[tool]["caught"])
            applicable = sum(1 for r in part if r[tool]["caught"] is not None)
            alarms = sum(1 for r in part if r[tool]["false_alarms"])
            totals.append(f"{caught}/{applicable} caught, {alarms} twins flagged")
        print(f"| **{half} half, {len(part)} cases** | | " + " | ".join(totals) + " |")
    for half in ("tuning", "held-out"):
        n = sum(1 for r in results.values() if r["half"] == half)
        if n:
            print(
                f"\nseconds per case, {half} half ({n} cases): "
                + ", ".join(
                    f"{t} {seconds[t][half] / n:.1f} (slowest {slowest[t][half][0]:.1f}: {slowest[t][half][1]})"
                    for t in tools
                )
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
