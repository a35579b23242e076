#!/usr/bin/env bash
# pg_down_at_start: see bench/faults/run and faults.py
exec "$(dirname "$0")/run" pg_down_at_start "$@"
