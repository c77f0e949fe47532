#!/usr/bin/env bash
# Re-records tests/differential/apiserver_cases.yaml from a real control plane: etcd,
# kube-apiserver and kube-controller-manager (its garbage collector, namespace, service-account,
# disruption and job controllers: see CONTROLLERS below), all on 127.0.0.1, in a temporary directory, stopped on exit. Then replays the recording against a
# second, fresh control plane and prints the report: anything short of 100 % there is a check
# that depends on timing or on the run, to be fixed in the case or in runner.py's
# normalisation.
#
# Needs: KUBE_BIN (default /work/build/bin) holding kube-apiserver and kube-controller-manager
# 1.32, built outside the repository (never commit them); etcd (Debian: apt-get install
# etcd-server); openssl; python with the project's test dependencies.
#
# How the binaries used for the committed recording were built (about 20 min on 2 cores):
#   apt-get install -t bookworm-backports golang-1.23
#   git archive <openshift/microshift release-4.19> deps/github.com/openshift/kubernetes
#     (Kubernetes v1.32.13 with its staging libraries and vendor/), then in that tree:
#   GOFLAGS=-mod=vendor GOTOOLCHAIN=local CGO_ENABLED=0 go build -p 2 -trimpath \
#     -ldflags "-X k8s.io/component-base/version.gitVersion=v1.32.13 ..." ./cmd/kube-apiserver
#   (the same for ./cmd/kube-controller-manager). Without --openshift-config that fork's
#   kube-apiserver runs the upstream admission chain (its ServiceAccount admission adds an
#   openshift-service-ca.crt source to the token volume; no case looks at volumes).
#   etcd: microshift's etcd/ module vendors etcd server 3.5; a 40-line main around
#   go.etcd.io/etcd/server/v3/embed taking the flags below, built the same way, is $KUBE_BIN/etcd.
#
# Usage: tests/differential/record.sh [--check | --serve]
#   --check: replay only, rewrite nothing; --serve: start the control plane, print its URL and
#   token and keep it up until interrupted (to try requests by hand).
set -euo pipefail

KUBE_BIN=${KUBE_BIN:-/work/build/bin}
# etcd 3.5 as Kubernetes 1.32 ships it; Debian's etcd-server (3.4.23) also works, but lacks
# RequestWatchProgress, so kube-apiserver refuses streaming lists (sendInitialEvents) with it.
if [[ -z ${ETCD:-} ]]; then
  ETCD=$KUBE_BIN/etcd
  [[ -x $ETCD ]] || ETCD=$(command -v etcd || echo /usr/bin/etcd)
fi
PYTHON=${PYTHON:-python3}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
MODE=record
[[ ${1:-} == --check ]] && MODE=check
[[ ${1:-} == --serve ]] && MODE=serve
# Only the controllers whose work the cases look at: the others (deployment, replicaset, the
# root-CA and service-CA publishers...) write to the objects under test while a case runs,
# which would make the answers depend on timing.
CONTROLLERS=garbage-collector-controller,namespace-controller,serviceaccount-controller
CONTROLLERS+=,serviceaccount-token-controller,disruption-controller,job-controller

for bin in "$KUBE_BIN/kube-apiserver" "$KUBE_BIN/kube-controller-manager" "$ETCD"; do
  [[ -x $bin ]] || { echo "record.sh: $bin is missing (see the comment at the top)" >&2; exit 2; }
done

ROOT=$(mktemp -d /tmp/apiserver-record.XXXXXX)
PIDS=()
stop_cluster() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for _ in $(seq 20); do  # kube-apiserver drains its watches first: up to 10 s, then KILL
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && break; done
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
trap 'stop_cluster; rm -rf "$ROOT"' EXIT
trap 'exit 130' INT TERM

free_port() {
  "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
TOKEN=$(openssl rand -hex 16)
SERVER=
ready() {
  curl -sk -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$SERVER$1" || true
}

# Starts a fresh control plane in $ROOT/$1 and points SERVER at it.
start_cluster() {
  local work=$ROOT/$1 etcd_port etcd_peer api_port
  mkdir -p "$work"
  etcd_port=$(free_port); etcd_peer=$(free_port); api_port=$(free_port)
  SERVER=https://127.0.0.1:$api_port
  # A static token whose user is in system:masters (RBAC lets that group do everything).
  echo "$TOKEN,recorder,recorder-uid,system:masters" >"$work/tokens.csv"
  openssl genrsa -out "$work/sa.key" 2048 2>/dev/null
  openssl rsa -in "$work/sa.key" -pubout -out "$work/sa.pub" 2>/dev/null

  "$ETCD" --data-dir "$work/etcd" --listen-client-urls "http://127.0.0.1:$etcd_port" \
    --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer" \
    --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
    --initial-cluster "default=http://127.0.0.1:$etcd_peer" >"$work/etcd.log" 2>&1 &
  PIDS+=($!)

  "$KUBE_BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
    --cert-dir "$work/certs" \
    --token-auth-file "$work/tokens.csv" \
    --authorization-mode Node,RBAC \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$work/sa.pub" \
    --service-account-signing-key-file "$work/sa.key" \
    --service-cluster-ip-range 10.96.0.0/16 \
    --allow-privileged \
    --v 1 >"$work/apiserver.log" 2>&1 &
  PIDS+=($!)

  for _ in $(seq 300); do
    [[ $(ready /readyz) == 200 ]] && break
    sleep 0.5
  done
  if [[ $(ready /readyz) != 200 ]]; then
    echo "kube-apiserver not ready:" >&2
    tail -30 "$work/apiserver.log" >&2
    exit 1
  fi

  printf '%s\n' "apiVersion: v1" "kind: Config" \
    "clusters: [{name: rec, cluster: {server: \"$SERVER\", insecure-skip-tls-verify: true}}]" \
    "users: [{name: rec, user: {token: \"$TOKEN\"}}]" \
    "contexts: [{name: rec, context: {cluster: rec, user: rec}}]" \
    "current-context: rec" >"$work/kubeconfig"
  "$KUBE_BIN/kube-controller-manager" \
    --kubeconfig "$work/kubeconfig" \
    --authentication-kubeconfig "$work/kubeconfig" \
    --authorization-kubeconfig "$work/kubeconfig" \
    --bind-address 127.0.0.1 --secure-port 0 \
    --leader-elect=false \
    --controllers "$CONTROLLERS" \
    --service-account-private-key-file "$work/sa.key" \
    --root-ca-file "$work/certs/apiserver.crt" \
    --cluster-cidr 10.244.0.0/16 --service-cluster-ip-range 10.96.0.0/16 \
    --v 1 >"$work/controller-manager.log" 2>&1 &
  PIDS+=($!)

  for _ in $(seq 120); do
    [[ $(ready /api/v1/namespaces/default/serviceaccounts/default) == 200 ]] && break
    sleep 0.5
  done
  if [[ $(ready /api/v1/namespaces/default/serviceaccounts/default) != 200 ]]; then
    echo "kube-controller-manager did not create the default ServiceAccount:" >&2
    tail -30 "$work/controller-manager.log" >&2
    exit 1
  fi
}

cd "$REPO"
run() {
  "$PYTHON" -m tests.differential.runner --server "$SERVER" --token "$TOKEN" \
    --wait-for-service-account "$@"
}

start_cluster first
if [[ $MODE == serve ]]; then
  echo "server $SERVER token $TOKEN (Ctrl-C stops it)"
  wait
fi
if [[ $MODE == record ]]; then
  VERSION=$(curl -sk -H "Authorization: Bearer $TOKEN" "$SERVER/version" |
    "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["gitVersion"])')
  ETCD_VERSION=$("$ETCD" --version | sed -n 's/^etcd Version: //p')
  SOURCE="recorded $(date -u +%F) against kube-apiserver and kube-controller-manager $VERSION"
  SOURCE+=" (openshift/kubernetes as vendored by openshift/microshift release-4.19),"
  SOURCE+=" etcd $ETCD_VERSION"
  echo "== recording: $SOURCE"
  run --record --source "$SOURCE" --prefix rec
  # Replayed on a second, fresh control plane: what differs there depends on the run.
  stop_cluster
  start_cluster second
fi
echo "== replaying the recording"
run --prefix check
