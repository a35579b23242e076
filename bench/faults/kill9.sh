#!/usr/bin/env bash
# kill9: see bench/faults/run and faults.py
exec "$(dirname "$0")/run" kill9 "$@"
