#!/usr/bin/env bash
# XGBoost on Dockyard, one CLI verb per step, no inference code:
#   train in the XGBoost framework image (script mode) → deploy the trained model on the
#   same image (its default handlers load xgboost-model) → predict through the load
#   balancer, in CSV and in LIBSVM.
set -euo pipefail
dy=${DOCKYARD:-dockyard}
here=$(cd "$(dirname "$0")" && pwd)
job="xgboost-$(date +%Y%m%d-%H%M%S)"

echo "── 1. train ─────────────────────────────────────────────────────────────"
"$dy" train "$job" \
  --framework xgboost \
  --source-dir "$here/code" --entry-point train.py \
  --channel "train=$here/data/train" --channel "validation=$here/data/validation" \
  --hyperparameter num-round=50 --hyperparameter max-depth=3 \
  --metric 'validation:error=validation-error:([0-9.]+)'

echo "── 2. deploy ────────────────────────────────────────────────────────────"
"$dy" deploy cancer --framework xgboost --model-data "training-job:$job"

echo "── 3. predict (probability of benign) ───────────────────────────────────"
# the first two rows of the validation set, without their label column
cut -d, -f2- "$here/data/validation/validation.csv" | head -2 |
  "$dy" invoke cancer --content-type text/csv --accept application/json
printf '0:13.82 1:24.49 2:92.33 3:595.9 6:0.1357 22:106 23:788\n' |
  "$dy" invoke cancer --content-type text/libsvm --accept text/csv

echo
echo "'dockyard delete cancer' removes the endpoint."
