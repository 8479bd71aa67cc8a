"""The pytest plugin, at its documented path: ``pytest_plugins = ["recipe_audit.checks.pytest_plugin"]``.

The plugin lives in `recipe_audit.checks.integrations.pytest_plugin`; this module re-exports its
fixture so that the path users write in their conftest.py keeps working.
"""

from __future__ import annotations

from recipe_audit.checks.integrations.pytest_plugin import recipe, run_and_assert

__all__ = ["recipe", "run_and_assert"]
