"""Brings in bench/faults/faults.py: the CI tests run the by-hand campaigns' own code, shorter."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "faults"))

import faults  # noqa: E402,F401


def assert_clean(fig):
    assert not fig.get("problems"), "\n".join(fig["problems"])
