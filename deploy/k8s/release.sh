#!/usr/bin/env bash
# Release an image to one environment: the migration Job first, then the pods (docs/operations.md#kubernetes).
#
#   deploy/k8s/release.sh <staging|production> <image-tag>            apply, migrate, roll out
#   deploy/k8s/release.sh <staging|production> <image-tag> --render   print what it would apply, touch nothing
#
# 1. renders the overlay with the release's tag and the Job renamed aiassistant-migrate-<tag> (a Job's pod template
#    cannot change, so each release runs a Job of its own; finished ones go after a day, ttlSecondsAfterFinished);
# 2. applies everything but the Deployments (the ConfigMap, ServiceAccount and NetworkPolicies the Job needs, the
#    Job) and waits for the Job: a failed migration stops the release with its log before any pod runs the new code;
# 3. applies everything, so the Deployments roll (maxUnavailable 0), and waits for each rollout.
set -euo pipefail  # bash 5.1 or newer (`wait -n` with process ids)

usage() { echo "usage: $0 <staging|production> <image-tag> [--render]" >&2; exit 2; }
[ $# -ge 2 ] || usage
env_name=$1 tag=$2 mode=${3:-apply}
[ "$mode" = apply ] || [ "$mode" = --render ] || usage
here=$(cd "$(dirname "$0")" && pwd)
overlay="$here/overlays/$env_name"
[ -f "$overlay/kustomization.yaml" ] || { echo "no overlay named $env_name in $here/overlays" >&2; exit 2; }
KUBECTL=${KUBECTL:-kubectl}
MIGRATE_TIMEOUT=${MIGRATE_TIMEOUT:-15m}
ROLLOUT_TIMEOUT=${ROLLOUT_TIMEOUT:-10m}

# A DNS label: lower case, [a-z0-9-], at most 63 characters with the prefix.
release=$(printf '%s' "$tag" | tr '[:upper:]' '[:lower:]' | tr -c 'a-z0-9-' '-' | cut -c1-40 | sed 's/^-*//; s/-*$//')
[ -n "$release" ] || { echo "the tag $tag gives no usable Job name" >&2; exit 2; }
job="aiassistant-migrate-$release"
namespace=$(sed -n 's/^namespace: *//p' "$overlay/kustomization.yaml")
[ -n "$namespace" ] || { echo "$overlay/kustomization.yaml sets no namespace" >&2; exit 2; }
# The overlay's image name (its `images` newName), whose tag this release sets.
image=$("$KUBECTL" kustomize "$overlay" | sed -n 's/^ *image: *//p' | sed 's/[:@][^/]*$//' | sort -u)
[ "$(printf '%s\n' "$image" | wc -l)" -eq 1 ] || { echo "expected one image in $env_name, got: $image" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $(realpath --relative-to="$work" "$overlay")  # kustomize takes no absolute path here
images:
  - name: $image
    newTag: "$tag"
patches:
  - target:
      kind: Job
      name: aiassistant-migrate
    patch: |-
      - op: replace
        path: /metadata/name
        value: $job
EOF
"$KUBECTL" kustomize "$work" >"$work/release.yaml"
# The same objects without the Deployments (kustomize writes one `---` line between objects).
awk 'BEGIN { RS = "\n---\n"; ORS = "\n---\n" } $0 !~ /(^|\n)kind: Deployment(\n|$)/' \
  "$work/release.yaml" >"$work/before-rollout.yaml"

if [ "$mode" = --render ]; then
  cat "$work/release.yaml"
  exit 0
fi

echo "release $tag to $namespace: migration Job $job"
"$KUBECTL" apply -f "$work/before-rollout.yaml"
# Whichever condition comes first: Complete goes on, Failed stops here.
"$KUBECTL" wait -n "$namespace" --for=condition=complete "job/$job" --timeout="$MIGRATE_TIMEOUT" &
complete_pid=$!
"$KUBECTL" wait -n "$namespace" --for=condition=failed "job/$job" --timeout="$MIGRATE_TIMEOUT" >/dev/null &
failed_pid=$!
set +e
wait -n "$complete_pid" "$failed_pid"
set -e
if "$KUBECTL" get -n "$namespace" "job/$job" -o jsonpath='{.status.conditions[?(@.type=="Complete")].status}' \
  | grep -qx True; then
  kill "$failed_pid" 2>/dev/null || true
else
  kill "$complete_pid" "$failed_pid" 2>/dev/null || true
  echo "migration Job $job did not complete; its log:" >&2
  "$KUBECTL" logs -n "$namespace" "job/$job" --tail=100 >&2 || true
  exit 1
fi

"$KUBECTL" apply -f "$work/release.yaml"
for deployment in aiassistant-web aiassistant-worker aiassistant-beat; do
  "$KUBECTL" rollout status -n "$namespace" "deployment/$deployment" --timeout="$ROLLOUT_TIMEOUT"
done
echo "released $tag to $namespace"
