#!/usr/bin/env bash
# Fetch the documentation pages' assets (Swagger UI and ReDoc) from npm, once, into a cache
# outside git; meson embeds them into the binary (option docs_assets), so the server reads
# no files and reaches no CDN.
#
#   scripts/assets.sh [DIR]           fetch into DIR (default .cache/npm-assets) when missing
#                                     or of other versions than pinned here
#   scripts/assets.sh --check [DIR]   exit 0 when DIR holds the pinned versions, 1 otherwise
#
# Needs npm (and so node) only when something is fetched. DIR gets the files flat and FILES,
# the list that meson.build reads. Each tarball is checked against its pinned integrity.
set -euo pipefail

# package@version  integrity  then path-in-package:name-here ...
PACKAGES=(
    "swagger-ui-dist@5.32.0
     sha512-nKZB0OuDvacB0s/lC2gbge+RigYvGRGpLLMWMFxaTUwfM+CfndVk9Th2IaTinqXiz6Mn26GK2zriCpv6/+5m3Q==
     swagger-ui.css:swagger-ui.css swagger-ui-bundle.js:swagger-ui-bundle.js
     favicon-32x32.png:favicon-32x32.png LICENSE:swagger-ui-dist.LICENSE.txt"
    "redoc@2.5.4
     sha512-M6jWhG1qoBnH6TFmzJnstyCZ87HmOY/UzDm78mHiYihEdlV/YcS9ogOo1NlElnJMeLsyxHFe2yFc4sNjHTrABQ==
     bundles/redoc.standalone.js:redoc.standalone.js LICENSE:redoc.LICENSE.txt"
)

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
check=0
if [ "${1:-}" = --check ]; then check=1; shift; fi
dir=${1:-$repo/.cache/npm-assets}

die() { echo "scripts/assets.sh: ERROR: $*" >&2; exit 1; }

stamp() {
    local p
    for p in "${PACKAGES[@]}"; do
        # shellcheck disable=SC2086  # word list
        set -- $p
        echo "$1"
    done
}

current() {
    [ -f "$dir/VERSIONS" ] && [ -f "$dir/FILES" ] && [ "$(cat "$dir/VERSIONS")" = "$(stamp)" ] || return 1
    local f
    while read -r f; do [ -s "$dir/$f" ] || return 1; done <"$dir/FILES"
}

if current; then exit 0; fi
[ "$check" = 1 ] && exit 1

command -v npm >/dev/null || die "npm is missing (Debian packages nodejs and npm); it fetches swagger-ui-dist and redoc"
mkdir -p "$(dirname "$dir")"
# Two builds at once (several build folders over one tree) must not fetch over each other.
exec 9>"$dir.lock"
flock 9
if current; then exit 0; fi

work=$(mktemp -d "$dir.tmp.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/out"
for p in "${PACKAGES[@]}"; do
    # shellcheck disable=SC2086  # word list
    set -- $p
    spec=$1 integrity=$2; shift 2
    echo "scripts/assets.sh: npm pack $spec" >&2
    json=$(cd "$work" && npm pack --json --loglevel=error "$spec") || die "npm pack $spec failed (is the npm registry reachable?)"
    read -r tgz got < <(node -e 'const p = JSON.parse(process.argv[1])[0]; console.log(p.filename, p.integrity)' "$json")
    [ "$got" = "$integrity" ] || die "$spec: integrity $got, pinned $integrity"
    mkdir "$work/$spec"
    members=()
    for m in "$@"; do members+=("package/${m%%:*}"); done
    tar -xzf "$work/$tgz" -C "$work/$spec" "${members[@]}" || die "$spec: files missing from $tgz"
    for m in "$@"; do
        cp "$work/$spec/package/${m%%:*}" "$work/out/${m#*:}"
        echo "${m#*:}" >>"$work/out/FILES"
    done
done
stamp >"$work/out/VERSIONS"
rm -rf "$dir"
mv "$work/out" "$dir"
echo "scripts/assets.sh: $(stamp | tr '\n' ' ')in $dir" >&2
