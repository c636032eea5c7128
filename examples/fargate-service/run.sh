#!/usr/bin/env bash
# The worked example: a scikit-learn model in a Dockerfile, pushed to Dockyard's
# registry, a Fargate task definition of 1 vCPU and 2 GB, a service of 2 tasks behind
# the load balancer, and more tasks when average CPU passes 70 %.
# Run it again and every step reuses or updates what the first run made.
set -euo pipefail
dy=${DOCKYARD:-dockyard}
here=$(cd "$(dirname "$0")" && pwd)
service=${SERVICE:-fargate-iris}
repository=examples/fargate-iris
tag=${TAG:-v1}
registry="127.0.0.1:${DOCKYARD_REGISTRY_PORT:-5000}"
image="$registry/$repository:$tag"

echo "── 1. build the image (Dockerfile on the scikit-learn framework image) ──"
"$dy" build "$here" --tag "$repository:$tag"

echo "── 2. push it to Dockyard's registry ────────────────────────────────────"
"$dy" repo create "$repository" 2>/dev/null || echo "repository $repository exists"
"$dy" push "$repository:$tag"

echo "── 3. register the Fargate task definition (1 vCPU, 2 GB) ───────────────"
taskdef=$(mktemp --suffix=.json)
trap 'rm -f "$taskdef"' EXIT
sed "s#IMAGE_URI#$image#" "$here/taskdef.json" > "$taskdef"
"$dy" register-task-definition "$taskdef"

echo "── 4. a service of 2 tasks behind the load balancer ─────────────────────"
if "$dy" service describe "$service" >/dev/null 2>&1; then
  "$dy" service update "$service" --task-definition fargate-iris
else
  "$dy" service create "$service" --task-definition fargate-iris --desired-count 2 \
    --launch-type FARGATE --load-balancer model:8080 --health-check-grace 30
fi

echo "── 5. more tasks when average CPU passes 70 % ──────────────────────────"
"$dy" autoscaling put-policy "$service" --metric cpu --target 70 --min 2 --max 6 \
  --scale-out-cooldown 60 --scale-in-cooldown 300

echo "── 6. predict through the service's URL ─────────────────────────────────"
url="http://127.0.0.1:${DOCKYARD_LB_PORT:-9080}/endpoints/$service/invocations"
echo "POST $url"
printf '5.1,3.5,1.4,0.2\n6.7,3.1,4.7,1.5\n7.7,3.0,6.1,2.3\n' |
  curl -sS --fail -H 'Content-Type: text/csv' -H 'Accept: application/json' \
    --data-binary @- "$url"
echo

echo "── 7. what autoscaling sees ────────────────────────────────────────────"
"$dy" autoscaling describe "$service"
echo
echo "Load it (e.g. many parallel POSTs to $url) and watch 'dockyard autoscaling describe"
echo "$service' and 'dockyard service describe $service'. Remove it with"
echo "'dockyard autoscaling deregister $service && dockyard service delete $service --force'."
