#!/usr/bin/env bash
# smtp_down: see bench/faults/run and faults.py
exec "$(dirname "$0")/run" smtp_down "$@"
