#!/usr/bin/env bash
# slow_clients: see bench/faults/run and faults.py
exec "$(dirname "$0")/run" slow_clients "$@"
