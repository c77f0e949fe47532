#!/usr/bin/env bash
# Re-records tests/differential/apiserver_cases.yaml from a real control plane: etcd,
# kube-apiserver and kube-controller-manager (its garbage collector, namespace, service-account
# and job controllers answer the deletion and defaulting cases; its root-CA publisher is off,
# so that namespaces hold no kube-root-ca.crt ConfigMap the lists would show), all on
# 127.0.0.1, in a temporary directory, stopped on exit. Then replays the recording against the same server
# (fresh namespaces) and prints the report: anything short of 100 % there is a check that
# depends on timing or on the run, to be fixed in the case or in runner.py's normalisation.
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
#   kube-apiserver runs the upstream admission chain.
#
# Usage: tests/differential/record.sh [--check]   (--check: compare only, rewrite nothing)
set -euo pipefail

KUBE_BIN=${KUBE_BIN:-/work/build/bin}
ETCD=${ETCD:-$(command -v etcd || echo /usr/bin/etcd)}
PYTHON=${PYTHON:-python3}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
MODE=record
[[ ${1:-} == --check ]] && MODE=check

for bin in "$KUBE_BIN/kube-apiserver" "$KUBE_BIN/kube-controller-manager" "$ETCD"; do
  [[ -x $bin ]] || { echo "record.sh: $bin is missing (see the comment at the top)" >&2; exit 2; }
done

WORK=$(mktemp -d /tmp/apiserver-record.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ETCD_PORT=$(free_port); ETCD_PEER=$(free_port); API_PORT=$(free_port)
TOKEN=$(openssl rand -hex 16)
SERVER=https://127.0.0.1:$API_PORT

# A static token whose user is in system:masters (RBAC lets that group do everything).
echo "$TOKEN,recorder,recorder-uid,system:masters" > "$WORK/tokens.csv"
openssl genrsa -out "$WORK/sa.key" 2048 2>/dev/null
openssl rsa -in "$WORK/sa.key" -pubout -out "$WORK/sa.pub" 2>/dev/null

"$ETCD" --data-dir "$WORK/etcd" --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER" \
  --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
  --initial-cluster "default=http://127.0.0.1:$ETCD_PEER" >"$WORK/etcd.log" 2>&1 &
PIDS+=($!)

"$KUBE_BIN/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_PORT" \
  --cert-dir "$WORK/certs" \
  --token-auth-file "$WORK/tokens.csv" \
  --authorization-mode Node,RBAC \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$WORK/sa.pub" \
  --service-account-signing-key-file "$WORK/sa.key" \
  --service-cluster-ip-range 10.96.0.0/16 \
  --allow-privileged \
  --v 1 >"$WORK/apiserver.log" 2>&1 &
PIDS+=($!)

ready() { curl -sk -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$SERVER$1" || true; }
for _ in $(seq 300); do
  [[ $(ready /readyz) == 200 ]] && break
  sleep 0.5
done
[[ $(ready /readyz) == 200 ]] || { echo "kube-apiserver not ready:" >&2; tail -30 "$WORK/apiserver.log" >&2; exit 1; }

cat >"$WORK/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: rec, cluster: {server: "$SERVER", insecure-skip-tls-verify: true}}]
users: [{name: rec, user: {token: "$TOKEN"}}]
contexts: [{name: rec, context: {cluster: rec, user: rec}}]
current-context: rec
EOF
"$KUBE_BIN/kube-controller-manager" \
  --kubeconfig "$WORK/kubeconfig" \
  --authentication-kubeconfig "$WORK/kubeconfig" --authorization-kubeconfig "$WORK/kubeconfig" \
  --bind-address 127.0.0.1 --secure-port 0 \
  --leader-elect=false \
  --controllers '*,-root-ca-cert-publisher' \
  --service-account-private-key-file "$WORK/sa.key" \
  --root-ca-file "$WORK/certs/apiserver.crt" \
  --cluster-cidr 10.244.0.0/16 --service-cluster-ip-range 10.96.0.0/16 \
  --v 1 >"$WORK/controller-manager.log" 2>&1 &
PIDS+=($!)

for _ in $(seq 120); do
  [[ $(ready /api/v1/namespaces/default/serviceaccounts/default) == 200 ]] && break
  sleep 0.5
done
[[ $(ready /api/v1/namespaces/default/serviceaccounts/default) == 200 ]] || {
  echo "kube-controller-manager did not create the default ServiceAccount:" >&2
  tail -30 "$WORK/controller-manager.log" >&2; exit 1; }

VERSION=$(curl -sk -H "Authorization: Bearer $TOKEN" "$SERVER/version" |
  "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["gitVersion"])')
ETCD_VERSION=$("$ETCD" --version | sed -n 's/^etcd Version: //p')
SOURCE="recorded $(date -u +%F) against kube-apiserver and kube-controller-manager $VERSION"
SOURCE+=" (openshift/kubernetes as vendored by openshift/microshift release-4.19), etcd $ETCD_VERSION"

cd "$REPO"
run() { "$PYTHON" -m tests.differential.runner --server "$SERVER" --token "$TOKEN" \
  --wait-for-service-account "$@"; }
if [[ $MODE == record ]]; then
  echo "== recording: $SOURCE"
  run --record --source "$SOURCE" --prefix rec | head -1
fi
echo "== replaying the recording against the same server"
run --prefix check
