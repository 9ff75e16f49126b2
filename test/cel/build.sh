#!/usr/bin/env bash
# Builds cel-match (main.go) against the k8s.io/apiserver release the test control plane runs and
# caches it outside the work tree, keyed by that version and main.go. Prints the binary's path as
# the last line of stdout; exit 3 = no Go; --cached-only exits 4 instead of building.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../cluster/versions.env
source "$here/../cluster/versions.env"
log() { printf '[cel-match] %s\n' "$*" >&2; }

minor=$(echo "$K8S_VERSION" | cut -d. -f2)
patch=$(echo "$K8S_VERSION" | cut -d. -f3)
staging="v0.${minor}.${patch}"
source_hash=$(sha256sum "$here/main.go" | cut -c1-12)
cache_root=${PULLGATE_CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pullgate-cluster}
out="$cache_root/cel-match_apiserver-${staging}_${source_hash}"
binary="$out/cel-match"

if [ -x "$binary" ]; then echo "$binary"; exit 0; fi
[ "${1:-}" = "--cached-only" ] && exit 4
if ! command -v go >/dev/null 2>&1; then
  log "Go toolchain not found on PATH: cel-match is built from k8s.io/apiserver ${staging} and needs Go >= 1.26."
  exit 3
fi

mkdir -p "$out"
exec 9>"$out/.lock"
flock 9
if [ -x "$binary" ]; then echo "$binary"; exit 0; fi
work="$out/src"
rm -rf "$work"
mkdir -p "$work"
cp "$here/main.go" "$work/main.go"
cat >"$work/go.mod" <<GOMOD
module pullgate.test/celmatch

go 1.26

require (
	k8s.io/api ${staging}
	k8s.io/apimachinery ${staging}
	k8s.io/apiserver ${staging}
)
GOMOD
log "building against k8s.io/apiserver ${staging} ..."
started=$(date +%s)
# The control plane's flags, so its build cache serves most packages.
(cd "$work" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$binary.tmp" .)
mv "$binary.tmp" "$binary"
rm -rf "$work"
log "built in $(( $(date +%s) - started ))s"
echo "$binary"
