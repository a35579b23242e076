#!/usr/bin/env bash
# soak: see bench/faults/run and faults.py
exec "$(dirname "$0")/run" soak "$@"
