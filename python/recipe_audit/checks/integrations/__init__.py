"""The training checks inside other tools: pytest and PyTorch Lightning.

- `pytest_helpers`: `assert_recipe_passes` and `failures` (no pytest import; also
  ``checks.assert_recipe_passes``, ``checks.failures``).
- `pytest_plugin`: the ``recipe`` fixture; enable it with
  ``pytest_plugins = ["recipe_audit.checks.pytest_plugin"]`` (the documented path, kept).
- `lightning`: `recipe_callback_class`, the ``checks.RecipeCallback`` Lightning callback (lightning is
  imported when the class is first asked for).
"""
