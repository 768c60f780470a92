#!/usr/bin/env bash
# The main job: the cluster demo. Installs what it needs into ./.venv first.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh "example"  # only what the demo needs; scripts/test.sh installs the rest
exec python -m examples "$@"
