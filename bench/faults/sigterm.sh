#!/usr/bin/env bash
# sigterm: see bench/faults/run and faults.py
exec "$(dirname "$0")/run" sigterm "$@"
