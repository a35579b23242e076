#!/usr/bin/env bash
# Long fuzzing by hand: every libFuzzer driver (test/fuzz/fuzz_*.c) for FUZZ_HOURS (1) each,
# FUZZ_JOBS (2) at once, growing the corpus dirs kept in the repository
# (test/fuzz/corpus-NAME, seeded from test/fuzz/seeds/NAME) so later CI runs start from
# what this one found. Crashing inputs go to $HG_BUILD_ROOT/build-fuzz/artifacts; turn each
# into a unit test in test/unit/ with its fix.
#
#   bench/fuzz_long.sh [DRIVER...]        e.g. bench/fuzz_long.sh json_body jwt
#
# Env: FUZZ_HOURS (1, may be a fraction), FUZZ_JOBS (2), HG_BUILD_ROOT. Builds build-fuzz
# with clang like scripts/test's fuzz stage. The last line is `N ok, N failed`.
set -euo pipefail
HG_LOG_PREFIX=bench/fuzz_long
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/../scripts/lib.sh"
export HG_LOG_PREFIX

FUZZ_HOURS=${FUZZ_HOURS:-1}
FUZZ_JOBS=${FUZZ_JOBS:-2}
SECONDS_EACH=$(awk -v h="$FUZZ_HOURS" 'BEGIN { s = int(h * 3600); print (s < 1 ? 1 : s) }')
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

CC=clang hg_build build-fuzz -Dfuzz=true --buildtype=debug || hg_die "build-fuzz did not build"
FUZZ_DIR=$HG_BUILD_ROOT/build-fuzz/test/fuzz
ARTIFACTS=$HG_BUILD_ROOT/build-fuzz/artifacts
LOGS=$HG_BUILD_ROOT/build-fuzz/fuzz-long-logs
mkdir -p "$ARTIFACTS" "$LOGS"

names=("$@")
if [ ${#names[@]} = 0 ]; then
    for drv in "$FUZZ_DIR"/fuzz_*; do
        [ -f "$drv" ] && [ -x "$drv" ] && names+=("$(basename "${drv#"$FUZZ_DIR"/fuzz_}")")
    done
fi
[ ${#names[@]} -gt 0 ] || hg_die "no fuzz_* drivers in $FUZZ_DIR"

run_one() {
    local name=$1 corpus=$HG_REPO/test/fuzz/corpus-$1 rc=0
    [ -x "$FUZZ_DIR/fuzz_$name" ] || { echo 127 >"$LOGS/$name.rc"; return; }
    mkdir -p "$corpus"
    local dirs=("$corpus")
    [ -d "$HG_REPO/test/fuzz/seeds/$name" ] && dirs+=("$HG_REPO/test/fuzz/seeds/$name")
    timeout -k 30 $((SECONDS_EACH + 600)) "$FUZZ_DIR/fuzz_$name" -max_total_time="$SECONDS_EACH" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$ARTIFACTS/$name-" \
        "${dirs[@]}" >"$LOGS/$name.log" 2>&1 || rc=$?
    echo "$rc" >"$LOGS/$name.rc"
}

hg_log "${#names[@]} drivers, ${SECONDS_EACH}s each, $FUZZ_JOBS at once; logs in $LOGS"
pids=()
for name in "${names[@]}"; do
    hg_log "$name: started $(date -u +%H:%M:%S)"
    run_one "$name" &
    pids+=($!)
    if [ ${#pids[@]} -ge "$FUZZ_JOBS" ]; then wait "${pids[@]}" || true; pids=(); fi
done
[ ${#pids[@]} = 0 ] || wait "${pids[@]}" || true

ok=0 failed=0
for name in "${names[@]}"; do
    rc=$(cat "$LOGS/$name.rc" 2>/dev/null || echo "none")
    runs=$(grep -Eo '^#[0-9]+' "$LOGS/$name.log" 2>/dev/null | tail -n 1 | tr -d '#' || true)
    corpus=$(find "$HG_REPO/test/fuzz/corpus-$name" -type f 2>/dev/null | wc -l)
    if [ "$rc" = 0 ]; then
        ok=$((ok + 1))
        hg_log "$name: ok, ${runs:-0} runs, corpus $corpus inputs"
    else
        failed=$((failed + 1))
        tail -n 40 "$LOGS/$name.log" >&2 || true
        hg_log "$name: FAILED (exit $rc), log $LOGS/$name.log, inputs in $ARTIFACTS"
    fi
done
echo "$ok ok, $failed failed"
[ "$failed" = 0 ]
