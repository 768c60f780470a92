#!/usr/bin/env bash
# The whole test suite, as CI runs it: lint (ruff), types (mypy --strict), then pytest.
# Installs what it needs into ./.venv first. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh "test,bench,example"
echo "[lint] ruff check" >&2
ruff check .
echo "[types] mypy --strict" >&2
mypy
echo "[tests] pytest" >&2
# -n 2: the CI machine has two cores. Exit code 5 (no tests collected) fails the run like any other.
python -m pytest -n "${PYTEST_WORKERS:-2}" "$@"
