#!/usr/bin/env bash
# End to end on a kind cluster (`make e2e`): build both images, load them into kind, install
# the chart, deploy the example OpenFnJob, wait for Ready, POST to it and check the run.
# Needs docker, kind, kubectl and helm on PATH. KEEP_CLUSTER=1 leaves the cluster running.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CLUSTER="${CLUSTER:-osc-e2e}"
TAG="${TAG:-e2e}"
JOBS_NAMESPACE="${JOBS_NAMESPACE:-osc-jobs}"
JOB="hello-webhook"
LOCAL_PORT="${LOCAL_PORT:-18080}"

log() { printf '\n== %s\n' "$*"; }
fail() { printf 'e2e: %s\n' "$*" >&2; exit 1; }

for command in docker kind kubectl helm curl python3; do
  command -v "$command" >/dev/null || fail "$command is needed on PATH"
done

cleanup() {
  if [[ -n "${FORWARD_PID:-}" ]]; then kill "$FORWARD_PID" 2>/dev/null || true; fi
  if [[ "${KEEP_CLUSTER:-0}" != 1 ]]; then kind delete cluster --name "$CLUSTER" || true; fi
}
trap cleanup EXIT

log "kind cluster $CLUSTER"
kind get clusters | grep -qx "$CLUSTER" || kind create cluster --name "$CLUSTER" --wait 120s
kubectl config use-context "kind-$CLUSTER"

log "images"
docker build -f "$ROOT/Dockerfile.runtime" -t "osc-runtime:$TAG" "$ROOT"
docker build -f "$ROOT/Dockerfile.operator" -t "osc-operator:$TAG" "$ROOT"
kind load docker-image --name "$CLUSTER" "osc-runtime:$TAG" "osc-operator:$TAG"

log "helm install"
kubectl create namespace "$JOBS_NAMESPACE" --dry-run=client -o yaml | kubectl apply -f -
helm upgrade --install osc "$ROOT/charts/osc" --namespace osc-system --create-namespace \
  --set image.repository=osc-operator --set image.tag="$TAG" \
  --set runtime.image.repository=osc-runtime --set runtime.image.tag="$TAG" \
  --set "watchNamespaces={$JOBS_NAMESPACE}" --wait --timeout 180s

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
log "e2e passed: $JOB answered 202 and its run succeeded"
