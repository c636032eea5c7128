#!/usr/bin/env bash
# PyTorch on Dockyard (CPU build of torch), one CLI verb per step, no inference code:
#   train in the PyTorch framework image (script mode) → deploy the TorchScript model on
#   the same image (its default handlers load model.pt) → predict through the load
#   balancer, JSON in, class probabilities out.
set -euo pipefail
dy=${DOCKYARD:-dockyard}
here=$(cd "$(dirname "$0")" && pwd)
job="wine-$(date +%Y%m%d-%H%M%S)"

echo "── 1. train ─────────────────────────────────────────────────────────────"
"$dy" train "$job" \
  --framework pytorch \
  --source-dir "$here/code" --entry-point train.py \
  --channel "train=$here/data/train" \
  --hyperparameter epochs=60 --hyperparameter lr=0.01 \
  --metric 'test:accuracy=test accuracy: ([0-9.]+)'

echo "── 2. deploy ────────────────────────────────────────────────────────────"
"$dy" deploy wine --framework pytorch --model-data "training-job:$job"

echo "── 3. predict (probability of each of the three cultivars) ──────────────"
printf '[[14.23,1.71,2.43,15.6,127,2.8,3.06,0.28,2.29,5.64,1.04,3.92,1065],
  [12.37,0.94,1.36,10.6,88,1.98,0.57,0.28,0.42,1.95,1.05,1.82,520],
  [13.4,3.91,2.48,23,102,1.8,0.75,0.43,1.41,7.3,0.7,1.56,750]]' |
  "$dy" invoke wine --content-type application/json --accept application/json

echo
echo "'dockyard delete wine' removes the endpoint."
