#!/usr/bin/env bash
# Builds the test control plane (kube-apiserver, kube-controller-manager, kubectl, etcd, helm) from
# Go modules and caches the binaries outside the work tree, keyed by version. A warm cache returns
# at once; a cold machine pays the build once (tens of CPU-minutes).
# Prints the directory holding the binaries as the last line of stdout.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"

log() { printf '[cluster-build] %s\n' "$*" >&2; }

# A cold compile of kube-apiserver is silent for minutes: say it is still going.
heartbeat_seconds=${PULLGATE_BUILD_HEARTBEAT_SECONDS:-30}
with_heartbeat() {
  local what=$1
  shift
  "$@" &
  local pid=$! waited=0
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    waited=$((waited + 1))
    if [ $((waited % heartbeat_seconds)) -eq 0 ]; then log "... still building $what (${waited}s)"; fi
  done
  wait "$pid"
}

# --cached-only: print the bin dir if the cache is complete (exit 0), else exit 4 without building.
cached_only=false
[ "${1:-}" = "--cached-only" ] && cached_only=true

have_go=false
command -v go >/dev/null 2>&1 && have_go=true

# The cache is looked at before Go is required, so cached binaries work on a machine without Go.
if $have_go; then
  arch=$(go env GOARCH)
else
  case $(uname -m) in
    x86_64) arch=amd64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) arch=$(uname -m) ;;
  esac
fi
cache_root=${PULLGATE_CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pullgate-cluster}
key="k8s-${K8S_VERSION}_helm-${HELM_VERSION}_${arch}"
out="$cache_root/$key"
bins=(kube-apiserver kube-controller-manager kubectl etcd helm)

complete() { for b in "${bins[@]}"; do [ -x "$out/bin/$b" ] || return 1; done; }
if complete; then
  echo "$out/bin"
  exit 0
fi
$cached_only && exit 4

if ! $have_go; then
  log "Go toolchain not found on PATH. The end-to-end tests build a real Kubernetes control plane"
  log "from Go modules and need Go >= 1.26 (https://go.dev/dl/). Install it, or set PATH, and retry."
  exit 3
fi

mkdir -p "$out/bin"
# One build at a time per cache entry (parallel test workers may all ask).
exec 9>"$out/.lock"
flock 9
if complete; then echo "$out/bin"; exit 0; fi

work="$out/src"
rm -rf "$work"
mkdir -p "$work"
export CGO_ENABLED=0 GOFLAGS=-mod=mod
started=$(date +%s)

log "fetching k8s.io/kubernetes@${K8S_VERSION} go.mod from the module proxy"
gomod=$(cd "$work" && go mod download -json "k8s.io/kubernetes@${K8S_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
minor=$(echo "$K8S_VERSION" | cut -d. -f2)
patch=$(echo "$K8S_VERSION" | cut -d. -f3)
staging_version="v0.${minor}.${patch}"
etcd_version=$(awk '$1=="go.etcd.io/etcd/server/v3"{print $2; exit}' "$gomod")
go_directive=$(awk '$1=="go"{print $2; exit}' "$gomod")

{
  echo "module pullgate.test/cluster"
  echo
  echo "go ${go_directive}"
  echo
  echo "require ("
  echo "	k8s.io/kubernetes ${K8S_VERSION}"
  echo "	go.etcd.io/etcd/server/v3 ${etcd_version}"
  echo ")"
  echo
  echo "replace ("
  # Every staging module the release requires at the placeholder v0.0.0 maps to its published tag.
  awk '$2=="v0.0.0" && $1 ~ /^k8s\.io\// {print $1}' "$gomod" | sort -u | while read -r m; do
    echo "	$m => $m ${staging_version}"
  done
  echo ")"
} >"$work/go.mod"
log "wrapper module: $(grep -c '=>' "$work/go.mod") staging replacements -> ${staging_version}, etcd ${etcd_version}"
mkdir -p "$work/etcd"
cp "$here/etcd/main.go" "$work/etcd/main.go"

pkg=k8s.io/component-base/version
cpkg=k8s.io/client-go/pkg/version
ldflags="-s -w"
for p in "$pkg" "$cpkg"; do
  ldflags+=" -X $p.gitVersion=${K8S_VERSION} -X $p.gitMajor=1 -X $p.gitMinor=${minor} -X $p.gitTreeState=clean"
  ldflags+=" -X $p.buildDate=1970-01-01T00:00:00Z"
done

cd "$work"
for cmd in kube-apiserver kube-controller-manager kubectl; do
  [ -x "$out/bin/$cmd" ] && continue
  log "building $cmd ${K8S_VERSION} (slow on a cold cache) ..."
  t=$(date +%s)
  with_heartbeat "$cmd" go build -trimpath -ldflags "$ldflags" -o "$out/bin/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd"
  mv "$out/bin/$cmd.tmp" "$out/bin/$cmd"
  log "built $cmd in $(( $(date +%s) - t ))s"
done

if [ ! -x "$out/bin/etcd" ]; then
  log "building etcd ${etcd_version} ..."
  t=$(date +%s)
  with_heartbeat etcd go build -trimpath -ldflags "-s -w" -o "$out/bin/etcd.tmp" ./etcd
  mv "$out/bin/etcd.tmp" "$out/bin/etcd"
  log "built etcd in $(( $(date +%s) - t ))s"
fi

if [ ! -x "$out/bin/helm" ]; then
  log "building helm ${HELM_VERSION} ..."
  t=$(date +%s)
  with_heartbeat helm env GOBIN="$out/helm-gobin" go install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION} -X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
    "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"
  mv "$out/helm-gobin/helm" "$out/bin/helm"
  rm -rf "$out/helm-gobin"
  log "built helm in $(( $(date +%s) - t ))s"
fi

rm -rf "$work"
log "control plane ready in $out/bin ($(( $(date +%s) - started ))s)"
echo "$out/bin"
