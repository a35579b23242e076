# shellcheck shell=bash
# Shared helpers for scripts/run, scripts/test, scripts/pg and bench/run. Source it, do not run it.
#
#   hg_ensure_packages [run|test|bench]   install the Debian packages that are missing
#   hg_build DIR [meson setup args...]    fetch the docs assets, configure once, then ninja
#                                         (DIR under $HG_BUILD_ROOT)
#   hg_pg_start DATADIR PORT              private PostgreSQL 15 cluster; exports DATABASE_URL
#   hg_pg_stop DATADIR
#   hg_free_port                          print a TCP port nobody listens on right now
#
# Env: HG_BUILD_ROOT (where build dirs go, default: the repository), PGBIN,
#      HG_PG_FAST=1 (fsync off: only for throwaway test clusters).

HG_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HG_BUILD_ROOT=${HG_BUILD_ROOT:-$HG_REPO}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
# Debian's test tools (pytest, aiosmtpd) are only visible to the system interpreter.
HG_PYTHON=/usr/bin/python3
export HG_REPO HG_BUILD_ROOT PGBIN

hg_log() { echo "${HG_LOG_PREFIX:-hourglass}: $*" >&2; }
hg_die() { hg_log "ERROR: $*"; exit 1; }

# ------------------------------------------------------------------------------ packages

# What to build, run and serve; every mode needs these. gcc and libc6-dev are explicit
# because --no-install-recommends would otherwise leave gcc without libc headers.
HG_PKGS_BUILD="gcc libc6-dev meson ninja-build pkg-config node-llhttp python3
    libuv1-dev libpq-dev libsodium-dev libargon2-dev libjwt-dev libjansson-dev libcurl4-openssl-dev
    postgresql-15 postgresql-client-15 curl ca-certificates"
# clang + its runtime for the libFuzzer build; pytest/aiosmtpd/requests for the black-box
# tests; docker-compose validates compose.yaml offline; headless chromium renders /docs.
HG_PKGS_TEST="clang libclang-rt-14-dev python3-pytest python3-aiosmtpd python3-requests openssl
    docker-compose chromium"
HG_PKGS_BENCH="wrk nginx iproute2"

hg_ensure_packages() {
    local mode=${1:-run} want missing=() p
    want=$HG_PKGS_BUILD
    # npm also fetches the documentation pages' assets when they are not cached yet.
    "$HG_REPO/scripts/assets.sh" --check || command -v npm >/dev/null || want="$want nodejs npm"
    case "$mode" in
        run) ;;
        test) want="$want $HG_PKGS_TEST"
              # npm for dockerfile-utils. A NodeSource nodejs already ships npm and conflicts
              # with Debian's npm package, so ask for the packages only when npx is missing.
              # npx also runs @redocly/cli on the OpenAPI document.
              command -v npx >/dev/null || want="$want nodejs npm" ;;
        bench) want="$want $HG_PKGS_BENCH" ;;
        *) hg_die "hg_ensure_packages: unknown mode $mode" ;;
    esac
    # one dpkg-query for all; it fails when any is unknown, which is what we look for
    local installed
    # shellcheck disable=SC2086  # $want is a word list
    installed=" $(dpkg-query -W -f='${Package} ${Status}\n' $want 2>/dev/null |
                  awk '$2 == "install" && $4 == "installed" { printf "%s ", $1 }' || true)"
    for p in $want; do
        [[ $installed == *" $p "* ]] || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" = 0 ] || hg_die "missing Debian packages (${missing[*]}); run as root or install them"
    hg_log "installing ${missing[*]}"
    local log rc=0
    log=$(mktemp /tmp/hourglass-apt.XXXXXX)
    # The lock timeout waits for another apt (unattended upgrades) instead of failing;
    # the output is shown only when something goes wrong.
    {
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq \
            --no-install-recommends "${missing[@]}"
    } >"$log" 2>&1 || rc=$?
    if [ "$rc" != 0 ]; then
        tail -n 30 "$log" >&2
        rm -f "$log"
        hg_die "apt-get failed (exit $rc) installing ${missing[*]}"
    fi
    rm -f "$log"
}

# ------------------------------------------------------------------------------ build

# hg_build DIR [meson setup args...]: DIR is relative to $HG_BUILD_ROOT. Setup arguments only
# matter the first time; change them by deleting the directory. HG_NINJA_TARGETS, when set,
# names the targets to build (default: all).
hg_build() {
    local dir=$HG_BUILD_ROOT/$1; shift
    # Swagger UI and ReDoc from npm, once, into .cache/npm-assets: meson embeds them.
    "$HG_REPO/scripts/assets.sh" || return 1
    if [ ! -f "$dir/build.ninja" ]; then
        local wipe=()
        # a setup that failed half-way leaves coredata behind and meson refuses to start again
        [ -f "$dir/meson-private/coredata.dat" ] && wipe=(--wipe)
        hg_log "meson setup $dir $*"
        meson setup "${wipe[@]}" "$@" "$dir" "$HG_REPO" >&2 || return 1
    fi
    # shellcheck disable=SC2086  # a word list of targets
    ninja -C "$dir" ${HG_NINJA_TARGETS:-} >&2
}

# ------------------------------------------------------------------------------ PostgreSQL

hg_as_postgres() { (cd /tmp && if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi); }

hg_pg_running() { [ -f "$1/PG_VERSION" ] && hg_as_postgres "$PGBIN/pg_ctl" -D "$1" status >/dev/null 2>&1; }

# initdb/postgres run as the postgres user, which must be able to walk down to the data
# folder: give "others" search permission (x only, never read) on each parent lacking it.
hg_pg_make_reachable() {
    local d=$1
    [ "$(id -u)" = 0 ] || return 0
    while [ "$d" != / ] && [ -n "$d" ]; do
        if ! runuser -u postgres -- test -x "$d"; then
            hg_log "chmod o+x $d (so the postgres user can reach its data folder)"
            chmod o+x "$d"
        fi
        d=$(dirname "$d")
    done
}

# hg_pg_start DATADIR PORT: init once, start when not running, make sure database
# `hourglass` exists. The socket lives in DATADIR's parent (sock/), the log in DATADIR.
# Sets HG_PG_STARTED=1 when this call started the server (so callers stop only their own).
hg_pg_start() {
    local data port parent sock
    data=$(mkdir -p "$1" && cd "$1" && pwd); port=$2
    parent=$(dirname "$data"); sock=$parent/sock
    HG_PG_STARTED=0
    [ -x "$PGBIN/initdb" ] || hg_die "$PGBIN/initdb not found (package postgresql-15)"
    mkdir -p "$sock"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$data" "$sock"; chmod 700 "$data"; fi
    hg_pg_make_reachable "$parent"
    if [ ! -f "$data/PG_VERSION" ]; then
        hg_log "initdb $data"
        hg_as_postgres "$PGBIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 \
            --locale=C.UTF-8 >/dev/null
        echo "include_if_exists = 'hourglass.conf'" >>"$data/postgresql.conf"
    fi
    # Rewritten at every start, so HG_PGPORT / HG_PG_FAST may change between runs.
    {
        echo "# written by scripts/lib.sh at every start"
        echo "listen_addresses = '127.0.0.1'"
        echo "port = $port"
        echo "unix_socket_directories = '$sock'"
        echo "max_connections = 200"
        if [ "${HG_PG_FAST:-0}" = 1 ]; then
            echo "fsync = off"
            echo "synchronous_commit = off"
            echo "full_page_writes = off"
        fi
    } | hg_as_postgres tee "$data/hourglass.conf" >/dev/null
    if ! hg_pg_running "$data"; then
        hg_as_postgres "$PGBIN/pg_ctl" -D "$data" -l "$data/postgres.log" -w -t 60 start >/dev/null || {
            tail -n 20 "$data/postgres.log" >&2 || true
            hg_die "PostgreSQL did not start on port $port (log: $data/postgres.log)"
        }
        HG_PG_STARTED=1
    fi
    if [ -z "$("$PGBIN/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
              "SELECT 1 FROM pg_database WHERE datname = 'hourglass'")" ]; then
        "$PGBIN/createdb" -h 127.0.0.1 -p "$port" -U postgres hourglass
    fi
    DATABASE_URL="postgresql://postgres@127.0.0.1:$port/hourglass"
    export DATABASE_URL HG_PG_STARTED
}

hg_pg_stop() {
    if hg_pg_running "$1"; then
        hg_as_postgres "$PGBIN/pg_ctl" -D "$1" -m fast -w -t 60 stop >/dev/null
    fi
}

hg_free_port() {
    "$HG_PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# hg_wait_port PORT [SECONDS]: wait until something accepts connections on 127.0.0.1:PORT.
hg_wait_port() {
    local _
    for _ in $(seq $((${2:-10} * 10))); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
