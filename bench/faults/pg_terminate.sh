#!/usr/bin/env bash
# pg_terminate: see bench/faults/run and faults.py
exec "$(dirname "$0")/run" pg_terminate "$@"
