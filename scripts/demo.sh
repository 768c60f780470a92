#!/usr/bin/env bash
# The main job: the cluster demo. Installs what it needs into ./.venv first.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh "test,bench,example"
exec python -m examples "$@"
