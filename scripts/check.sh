#!/usr/bin/env bash
# The static checks that hold the code to docs/architecture.md; run from the repository root after
# `pip install -e '.[test]'` (it brings ruff, mypy and import-linter). Exits non-zero on the first
# check that fails, naming it.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { echo "== $*" >&2; "$@"; }
step ruff check python tests benches scripts
step ruff format --check python tests benches scripts
step mypy --strict python/recipe_audit
step python -m mypy.stubtest recipe_audit._core
step lint-imports
step python scripts/module_graph.py
step cargo fmt --check
step cargo clippy --release --all-targets -- -D warnings
