# Sourced by the scripts: make ./.venv hold what the project needs, installing only when
# pyproject.toml changed since the last install (a stamp file records its hash).
# Usage: source scripts/_venv.sh EXTRAS   (e.g. "test,bench")
set -euo pipefail
extras="${1:-test}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
py="${PYTHON:-python3}"
if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "deltamesh needs Python >= 3.11 (found: $("$py" --version 2>&1))" >&2
  exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
  echo "[setup] creating $venv" >&2
  "$py" -m venv "$venv"
fi
stamp="$venv/.deltamesh-$(echo "$extras" | tr ',' '-').stamp"
# setup.py builds the optional C module (crdts/_speedups.c): a change to either reinstalls
want="$(cat "$root/pyproject.toml" "$root/setup.py" "$root"/crdts/*.c | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[setup] installing deltamesh[$extras] into $venv" >&2
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet -e "$root[$extras]"
  echo "$want" > "$stamp"
fi
export PATH="$venv/bin:$PATH"
