#!/usr/bin/env bash
# The main job: the shopping-cart cluster demo (three nodes on localhost, their web pages, Ctrl-C
# stops them). Installs what it needs (the `example` extra) into ./.venv first. Arguments go to
# `python -m examples.cart demo` (e.g. --dir, --http-port, --gossip-port).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh "example"  # only what the demo needs; scripts/test.sh installs the rest
exec python -m examples.cart demo "$@"
