#!/usr/bin/env bash
# The whole lifecycle on real containers, one CLI verb per step:
#   train (SageMaker training contract) → build an inference image → deploy 2 replicas
#   behind the load balancer → predict through it.
# Run it again and every step reuses what the first run made.
set -euo pipefail
dy=${DOCKYARD:-dockyard}
here=$(cd "$(dirname "$0")" && pwd)
job="iris-$(date +%Y%m%d-%H%M%S)"

echo "── 1. train ─────────────────────────────────────────────────────────────"
"$dy" train "$job" \
  --framework sklearn \
  --source-dir "$here/code" --entry-point train.py \
  --channel "train=$here/data/train" \
  --hyperparameter C=1.0 --hyperparameter max-iter=200 \
  --metric 'validation:accuracy=validation accuracy: ([0-9.]+)' \
  --metric 'test:accuracy=test accuracy: ([0-9.]+)'

echo "── 2. package ───────────────────────────────────────────────────────────"
"$dy" build "$here/serve" --tag dockyard-iris:latest --framework sklearn \
  --model-data "training-job:$job"

echo "── 3. deploy ────────────────────────────────────────────────────────────"
"$dy" deploy iris --image dockyard-iris:latest --replicas 2

echo "── 4. predict ───────────────────────────────────────────────────────────"
printf '5.1,3.5,1.4,0.2\n6.7,3.1,4.7,1.5\n7.7,3.0,6.1,2.3\n' |
  "$dy" invoke iris --content-type text/csv --accept application/json

echo
echo "The endpoint keeps running: 'dockyard endpoints' lists it, 'dockyard delete iris' removes it."
echo "See it all in a browser: $dy console   (prints the address of the web console)"
