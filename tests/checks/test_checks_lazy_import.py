"""`import recipe_audit` and `import recipe_audit.checks` never import torch; a check called
without torch says how to install it. Runs with or without torch installed (subprocesses)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

BLOCK_TORCH = textwrap.dedent("""
    import sys
    for name in ("torch", "torch.nn", "torch.nn.functional", "lightning", "matplotlib"):
        sys.modules[name] = None  # import raises ImportError, as on a machine without them
""")


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)


def test_importing_the_package_and_checks_does_not_import_torch() -> None:
    done = _python(
        "import sys, recipe_audit, recipe_audit.checks as c; print('torch' in sys.modules, len(c.CHECK_NAMES))"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "24"]


def test_without_torch_a_check_raises_an_install_hint() -> None:
    code = BLOCK_TORCH + textwrap.dedent("""
        from recipe_audit import checks
        for call in (lambda: checks.run_recipe(lambda: None, None, None),
                     lambda: checks.loss_at_init(lambda: None, None, None),
                     lambda: checks.watch(None, None),
                     lambda: checks.rank_by_loss(None, None)):
            try:
                call()
            except ImportError as err:
                print("IMPORTERROR", err)
    """)
    done = _python(code)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 4 and all("pip install 'recipe-audit[torch]'" in line for line in lines), lines


def test_without_lightning_the_callback_raises_an_install_hint() -> None:
    code = BLOCK_TORCH + textwrap.dedent("""
        sys.modules["pytorch_lightning"] = None
        from recipe_audit import checks
        try:
            checks.RecipeCallback
        except ImportError as err:
            print("IMPORTERROR", err)
    """)
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert "IMPORTERROR" in done.stdout and "pip install 'recipe-audit[lightning]'" in done.stdout, done.stdout
