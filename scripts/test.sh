#!/usr/bin/env bash
# The whole test suite, as CI runs it: lint (ruff), types (mypy --strict), then pytest.
# Installs what it needs into ./.venv first. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh "test,bench,example"
echo "[lint] ruff check" >&2
ruff check .
# the formatter's style too (Python files and the Python blocks of docs/*.md): run `ruff format`
echo "[lint] ruff format --check" >&2
ruff format --check .
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
# The AWLWWMap codec has an optional compiled module (crdts/_speedups.c, built by the install
# above): the run above used it; the law suite and the codec tests run again on the pure-Python
# path every user without a C compiler gets.
if [ "$#" -eq 0 ]; then
  echo "[tests] pytest, pure-Python path (DELTAMESH_PURE=1)" >&2
  DELTAMESH_PURE=1 python -m pytest -n "${PYTEST_WORKERS:-2}" -q \
    tests/crdts/test_laws.py tests/crdts/test_awlwwmap.py tests/crdts/test_awlwwmap_codec.py \
    tests/crdts/test_speedups.py tests/crdts/test_speedups_canonical.py \
    tests/crdts/test_speedups_decode.py tests/crdts/test_awlwwmap_one_dot.py \
    tests/crdts/test_awlwwmap_absorb.py
fi
