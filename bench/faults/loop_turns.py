#!/usr/bin/python3
"""The server's loop turns from a perf recording of syscall tracepoints: per thread, a turn runs
from epoll_wait's return to its next call; prints the distribution of turn times and the most
of each syscall one turn made (counts do not depend on the machine's load, times do).

    bench/faults/run slow_clients --seconds 14 --server-cpu 0 --attacker-cpu 1 \\
        --perf /tmp/turns.data --perf-events "$(bench/faults/loop_turns.py --events)"
    perf script -i /tmp/turns.data -F comm,tid,cpu,time,event | bench/faults/loop_turns.py
"""
import collections
import re
import sys

COUNTED = ("write", "writev", "shutdown", "close", "read", "accept4")
EVENTS = ",".join(["syscalls:sys_%s_%s" % (k, e) for e in ("epoll_wait", "epoll_pwait") for k in ("enter", "exit")]
                  + ["syscalls:sys_enter_%s" % n for n in COUNTED])
LINE = re.compile(r"^\s*\S+\s+(\d+)\s+\[\d+\]\s+([\d.]+):\s+syscalls:sys_(enter|exit)_(\w+)")
MIN_TURNS = 100  # threads with fewer are not a worker's loop


def turns_of(lines):
    turns, open_turn = collections.defaultdict(list), {}
    for line in lines:
        m = LINE.match(line)
        if not m:
            continue
        tid, t, kind, name = int(m.group(1)), float(m.group(2)), m.group(3), m.group(4)
        if name.startswith("epoll_"):
            if kind == "exit":
                open_turn[tid] = (t, collections.Counter())
            elif tid in open_turn:
                t0, calls = open_turn.pop(tid)
                turns[tid].append(((t - t0) * 1000, calls))
        elif kind == "enter" and tid in open_turn:
            open_turn[tid][1][name] += 1
    return turns


def main():
    if sys.argv[1:] == ["--events"]:
        print(EVENTS)
        return
    for tid, ts in turns_of(sys.stdin).items():
        if len(ts) < MIN_TURNS:
            continue
        ms = sorted(d for d, _ in ts)
        print("thread %d: %d turns, ms p50 %.3f p99 %.3f p99.9 %.3f max %.1f" % (
            tid, len(ts), ms[len(ms) // 2], ms[int(len(ms) * .99)], ms[int(len(ms) * .999)], ms[-1]))
        print("  most in one turn: " + ", ".join("%s %d" % (n, max(c[n] for _, c in ts)) for n in COUNTED))
        for d, c in sorted(ts, key=lambda x: -x[0])[:5]:
            print("  longest: %.1f ms %s" % (d, dict(c)))


if __name__ == "__main__":
    main()
