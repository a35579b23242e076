#!/usr/bin/env bash
# Fetch what the browser tests (test/browser) need from npm, once, into a cache outside git:
# playwright-core (drives the Debian chromium package; it downloads no browser) and axios
# (the HTTP client the seed front ends use, served to the test pages as they would load it).
#
#   scripts/browser-deps.sh [DIR]           fetch into DIR (default .cache/npm-browser) when
#                                           missing or of other versions than pinned here
#   scripts/browser-deps.sh --check [DIR]   exit 0 when DIR holds the pinned versions
#
# DIR gets node_modules/<package>/ (each package unpacked whole) and VERSIONS. Each tarball
# is checked against its pinned integrity. Needs npm (and node) only when something is fetched.
set -euo pipefail

# package@version  integrity
PACKAGES=(
    "playwright-core@1.65.2
     sha512-aHu9F46Mx5ha9iiB+VLZMUUtex3PBw4am9MHptc0IXaJhz++6YXsH96eEyThwCwMkIUiB8TdZcwXqnb3xKDzmA=="
    "axios@1.7.9
     sha512-LhLcE7Hbiryz8oMDdDptSrWowmB4Bl6RCt6sIJKpRB4XtVf0iEgewX3au/pJqm+Py1kCASkb/FFKjxQaLtxJvw=="
)

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
check=0
if [ "${1:-}" = --check ]; then check=1; shift; fi
dir=${1:-$repo/.cache/npm-browser}

die() { echo "scripts/browser-deps.sh: ERROR: $*" >&2; exit 1; }

stamp() {
    local p
    for p in "${PACKAGES[@]}"; do
        # shellcheck disable=SC2086  # word list
        set -- $p
        echo "$1"
    done
}

current() {
    [ -f "$dir/VERSIONS" ] && [ "$(cat "$dir/VERSIONS")" = "$(stamp)" ] &&
        [ -f "$dir/node_modules/playwright-core/package.json" ] &&
        [ -s "$dir/node_modules/axios/dist/axios.min.js" ]
}

if current; then exit 0; fi
[ "$check" = 1 ] && exit 1

command -v npm >/dev/null || die "npm is missing (Debian packages nodejs and npm)"
mkdir -p "$(dirname "$dir")"
# Several build folders over one tree may run the tests at once.
exec 9>"$dir.lock"
flock 9
if current; then exit 0; fi

work=$(mktemp -d "$dir.tmp.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/out/node_modules"
for p in "${PACKAGES[@]}"; do
    # shellcheck disable=SC2086  # word list
    set -- $p
    spec=$1 integrity=$2 name=${1%@*}
    echo "scripts/browser-deps.sh: npm pack $spec" >&2
    json=$(cd "$work" && npm pack --json --loglevel=error "$spec") || die "npm pack $spec failed (is the npm registry reachable?)"
    read -r tgz got < <(node -e 'const p = JSON.parse(process.argv[1])[0]; console.log(p.filename, p.integrity)' "$json")
    [ "$got" = "$integrity" ] || die "$spec: integrity $got, pinned $integrity"
    mkdir "$work/out/node_modules/$name"
    tar -xzf "$work/$tgz" -C "$work/out/node_modules/$name" --strip-components=1 || die "$spec: cannot unpack $tgz"
done
stamp >"$work/out/VERSIONS"
rm -rf "$dir"
mv "$work/out" "$dir"
echo "scripts/browser-deps.sh: $(stamp | tr '\n' ' ')in $dir" >&2
