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
# tests/sync/node/test_namespaces.py injects packet loss with nftables (and fails, never skips,
# without it): install the Debian package when it is missing and we may.
if ! command -v nft >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "[setup] apt-get install -y nftables" >&2
  apt-get install -y -q nftables >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q nftables >/dev/null; }
fi
echo "[tests] pytest" >&2
# -n 2: the CI machine has two cores. Exit code 5 (no tests collected) fails the run like any other.
python -m pytest -n "${PYTEST_WORKERS:-2}" "$@"
