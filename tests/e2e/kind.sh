#!/usr/bin/env bash
# End to end on a real cluster with real containers (`make e2e`):
#   1. the cluster suite (tests/cluster, what `make test` runs on its local control plane)
#      against the cluster, with OSC_TEST_KUBECONFIG pointing the suite at it;
#   2. the walk-through: install the chart with the images, deploy the example OpenFnJob, wait
#      for Ready, POST to it and check the run.
# The cluster: the one named by KUBECONFIG when it is set (push the images where it can pull
# them and set TAG / REGISTRY), otherwise a kind cluster made here (needs docker and kind; the
# images are built and loaded into it). KEEP_CLUSTER=1 leaves a kind cluster running.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CLUSTER="${CLUSTER:-osc-e2e}"
TAG="${TAG:-e2e}"
REGISTRY="${REGISTRY:-}"          # e.g. registry.example.com/ (with the slash)
JOBS_NAMESPACE="${JOBS_NAMESPACE:-osc-jobs}"
JOB="hello-webhook"
LOCAL_PORT="${LOCAL_PORT:-18080}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"

log() { printf '\n== %s\n' "$*"; }
fail() { printf 'e2e: %s\n' "$*" >&2; exit 1; }

USE_KIND=0
[[ -n "${KUBECONFIG:-}" ]] || USE_KIND=1
needed=(kubectl helm curl python3)
[[ "$USE_KIND" == 1 ]] && needed+=(docker kind)
for command in "${needed[@]}"; do
  command -v "$command" >/dev/null || fail "$command is needed on PATH"
done
[[ -x "$PYTHON" ]] || fail "run make install first (no $PYTHON)"

cleanup() {
  if [[ -n "${FORWARD_PID:-}" ]]; then kill "$FORWARD_PID" 2>/dev/null || true; fi
  if [[ "$USE_KIND" == 1 && "${KEEP_CLUSTER:-0}" != 1 ]]; then
    kind delete cluster --name "$CLUSTER" || true
  fi
}
trap cleanup EXIT

if [[ "$USE_KIND" == 1 ]]; then
  log "kind cluster $CLUSTER"
  kind get clusters | grep -qx "$CLUSTER" || kind create cluster --name "$CLUSTER" --wait 120s
  export KUBECONFIG="$ROOT/.tools/kind-$CLUSTER.kubeconfig"
  kind get kubeconfig --name "$CLUSTER" >"$KUBECONFIG"
  log "images"
  docker build -f "$ROOT/Dockerfile.runtime" -t "osc-runtime:$TAG" "$ROOT"
  docker build -f "$ROOT/Dockerfile.operator" -t "osc-operator:$TAG" "$ROOT"
  kind load docker-image --name "$CLUSTER" "osc-runtime:$TAG" "osc-operator:$TAG"
fi

log "cluster suite (tests/cluster) against $(kubectl config current-context)"
OSC_TEST_KUBECONFIG="$KUBECONFIG" OSC_TEST_RUNTIME_IMAGE="${REGISTRY}osc-runtime:$TAG" \
  "$PYTHON" -m pytest "$ROOT/tests/cluster" -p no:cacheprovider

log "helm install"
kubectl create namespace "$JOBS_NAMESPACE" --dry-run=client -o yaml | kubectl apply -f -
helm upgrade --install osc "$ROOT/charts/osc" --namespace osc-system --create-namespace \
  --set image.repository="${REGISTRY}osc-operator" --set image.tag="$TAG" \
  --set runtime.image.repository="${REGISTRY}osc-runtime" --set runtime.image.tag="$TAG" \
  --set clusterWide=false --set "watchNamespaces={$JOBS_NAMESPACE}" --wait --timeout 180s
kubectl scale deployment osc -n osc-system --replicas=1  # the suite left it at 0

log "OpenFnJob $JOB"
kubectl apply -n "$JOBS_NAMESPACE" -f "$ROOT/examples/k8s/webhook-generated-key.yaml"
kubectl wait -n "$JOBS_NAMESPACE" --for=condition=Ready "openfnjob/$JOB" --timeout=180s
KEY="$(kubectl get secret -n "$JOBS_NAMESPACE" "$JOB-inbox" -o jsonpath='{.data.api-key}' | base64 -d)"

log "POST through a port-forward"
kubectl port-forward -n "$JOBS_NAMESPACE" "svc/$JOB" "$LOCAL_PORT:80" >/dev/null &
FORWARD_PID=$!
URL="http://127.0.0.1:$LOCAL_PORT"
for _ in $(seq 1 30); do curl -fsS "$URL/healthz" >/dev/null 2>&1 && break; sleep 1; done
ACCEPTED="$(curl -fsS -X POST "$URL/inbox" -H "Authorization: Bearer $KEY" \
  -H 'Content-Type: application/json' -d '{"name": "kind"}')"
RUN_ID="$(python3 -c 'import json, sys; print(json.load(sys.stdin)["run_id"])' <<<"$ACCEPTED")"

log "run $RUN_ID"
STATUS=queued
for _ in $(seq 1 60); do
  RUN="$(curl -fsS "$URL/runs/$RUN_ID" -H "Authorization: Bearer $KEY")"
  STATUS="$(python3 -c 'import json, sys; print(json.load(sys.stdin)["status"])' <<<"$RUN")"
  [[ "$STATUS" == queued || "$STATUS" == running ]] || break
  sleep 1
done
echo "$RUN"
[[ "$STATUS" == success ]] || fail "the run ended $STATUS"
GREETING="$(python3 -c 'import json, sys; print(json.load(sys.stdin)["final_state"]["data"]["greeting"])' <<<"$RUN")"
[[ "$GREETING" == "hello kind" ]] || fail "unexpected greeting: $GREETING"
log "e2e passed: the cluster suite, and $JOB answered 202 and its run succeeded"
