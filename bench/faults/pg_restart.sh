#!/usr/bin/env bash
# pg_restart: see bench/faults/run and faults.py
exec "$(dirname "$0")/run" pg_restart "$@"
