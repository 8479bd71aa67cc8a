"""The registry of training checks and the package's layout rules (no torch needed).

Each check is declared once (`@training_check`); its public function, its place in `CHECK_NAMES`
and its report rows derive from that declaration. The layout rules keep `recipe_audit.checks`
apart from the data side and its imports in one style.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from recipe_audit import checks
from recipe_audit.checks import pytest_plugin
from recipe_audit.checks._registry import registered, row
from recipe_audit.checks._report import skip, verdict
from recipe_audit.checks.integrations import pytest_plugin as plugin_module
from recipe_audit.checks.recipe import CHECKS

PACKAGE = Path(checks.__file__).parent

CONTRACT = (
    "seed_determinism",
    "loss_at_init",
    "init_bias",
    "input_normalization",
    "input_independent_baseline",
    "overfit_one_batch",
    "decreasing_loss",
    "batch_independence",
    "causality",
    "lr_schedule",
    "augmentation_labels",
    "grad_clipping",
    "grad_accumulation",
    "frozen_params",
    "eval_mode",
    "activations",
    "nan_inf",
    "input_layout",
    "preprocess_leak",
    "batch_composition",
    "loss_reduction",
    "class_weights",
    "padding_loss",
    "weight_decay",
)
"""The check names and their order: a stable contract, written out here on purpose."""


def test_check_names_are_the_contract_in_recipe_order() -> None:
    assert checks.CHECK_NAMES == CONTRACT
    assert tuple(c.name for c in registered()) == CONTRACT == tuple(c.name for c in CHECKS)
    orders = [c.order for c in CHECKS]
    assert orders == sorted(orders) and len(set(orders)) == len(orders)


@pytest.mark.parametrize("name", CONTRACT)
def test_each_check_is_a_public_function_derived_from_its_declaration(name: str) -> None:
    function = getattr(checks, name)
    declared = function.check
    assert name in checks.__all__
    assert declared.name == function.__name__ == name
    assert function.__doc__ == declared.doc and "run_recipe" in declared.doc and "Example:" in declared.doc
    assert function.__module__ == declared.run.__module__
    assert list(inspect.signature(function).parameters) == ["model_fn", "data", "loss_fn", "options"]
    assert declared.step and declared.advice and declared.recipe_line == f"{declared.step}: {declared.advice}"


def test_a_row_ends_its_hint_with_the_recipe_line_except_a_skip() -> None:
    declared = checks.loss_at_init.check
    failed = declared.row(verdict("fail", float("nan"), "x", "measured", "do this"))
    assert failed.check == "loss_at_init" and failed.value is None
    assert failed.hint == f"do this ({declared.recipe_line})"
    assert declared.row(verdict("pass", 1.0)).hint == declared.recipe_line
    assert declared.row(skip("needs eval_data")).hint == ""
    assert row("repeated_batches", verdict("warn", 1.0, hint="look")).hint == "look"  # watch's own: no advice
    with pytest.raises(ValueError, match="status must be one of"):
        verdict("maybe")


def test_the_documented_integration_paths_keep_working() -> None:
    assert pytest_plugin.recipe is plugin_module.recipe
    assert pytest_plugin.run_and_assert is plugin_module.run_and_assert
    assert callable(checks.recipe_callback_class) and "recipe_callback_class" in checks.__all__
    assert set(checks.__all__) <= set(dir(checks)) | {"RecipeCallback"}


def _modules() -> list[tuple[str, ast.Module]]:
    return [
        (str(p.relative_to(PACKAGE)), ast.parse(p.read_text(encoding="utf-8"))) for p in sorted(PACKAGE.rglob("*.py"))
    ]


def _imports(node: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    return [n for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))]


def test_checks_import_nothing_of_the_data_side_and_no_private_name() -> None:
    allowed = ("recipe_audit.checks", "recipe_audit._optional", "recipe_audit.schema")
    bad = []
    for path, tree in _modules():
        for node in _imports(tree):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for module in modules:
                if module.startswith("recipe_audit") and not module.startswith(allowed):
                    bad.append(f"{path}:{node.lineno} imports {module}")
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("recipe_audit"):
                bad += [f"{path}:{node.lineno} imports private {a.name}" for a in node.names if a.name.startswith("_")]
    assert not bad, bad


def test_imports_sit_at_module_level_except_optional_extras() -> None:
    extras = ("torch", "lightning", "pytorch_lightning", "matplotlib")
    local = []
    for path, tree in _modules():
        for function in ast.walk(tree):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in _imports(function):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                local += [f"{path}:{node.lineno} {n}" for n in names if not n.startswith(extras)]
    assert not local, local
