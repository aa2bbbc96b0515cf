#!/usr/bin/env bash
# The main job on the open demo benchmark (called by `make demo`):
# data -> TFRecords -> train -> evaluate on test -> compare with the paper.
# Each step is skipped when its output already exists, and training resumes,
# so an interrupted `make demo` continues where it stopped.
#
# Training uses `bin/train --preset=cpu` (srs_tf/training/presets.py; exactly
# that preset, nothing else on the command line but the paths, and the
# Inception initialisation when ImageNet weights cannot be had): the lower
# Inception blocks are cached once per sticker, the emoji warm-up trains the
# upper blocks, then the matcher trains on the encoded bank. Sized for the
# project's 2-core CPU (docs/RESULTS.md). With a visible GPU the job trains
# with `--preset=paper` instead, sized to the demo (TRAIN_STEPS joint steps).
# PRESET, TRAIN_STEPS overrides: `PRESET=paper make demo`.
# DATASET=faces runs the same job on the second synthetic dataset
# (srs_tf.data.faces, made independently of the demo; docs/DEMO_DATA.md).
set -euo pipefail
OUT=${1:-demo_run}
REPO=$(cd "$(dirname "$0")/.." && pwd)
run() { python "$REPO/bin/$1" "${@:2}"; }
mkdir -p "$OUT"
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
start=$(date +%s)
stamp() { echo "== [$(( $(date +%s) - start ))s] $*"; }

DATASET=${DATASET:-demo}
if [ ! -d "$OUT/DATA" ]; then
  case "$DATASET" in
    demo)
      stamp "1/5 making the open demo benchmark (bin/make_demo_data)"
      run make_demo_data --output_dir="$OUT/DATA" ;;
    faces)
      stamp "1/5 making the second synthetic dataset (bin/make_faces_data)"
      run make_faces_data --output_dir="$OUT/DATA" ;;
    *)
      echo "error: DATASET=$DATASET: choose demo or faces" >&2
      exit 2 ;;
  esac
else
  stamp "1/5 $OUT/DATA exists, kept"
fi

if [ ! -d "$OUT/TFREC" ]; then
  stamp "2/5 converting to TFRecords (bin/make_tfrecords)"
  run make_tfrecords --data_dir="$OUT/DATA" --output_dir="$OUT/TFREC"
else
  stamp "2/5 $OUT/TFREC exists, kept"
fi

extra=()
if [ -z "${PRESET:-}" ]; then
  if python -c "import tensorflow as tf, sys; sys.exit(0 if tf.config.list_physical_devices('GPU') else 1)" 2>/dev/null; then
    PRESET=paper
    extra+=(--train_steps="${TRAIN_STEPS:-2000}" --eval_every=500 --eval_examples=1000)
  else
    PRESET=cpu
  fi
fi
[ -n "${TRAIN_STEPS:-}" ] && [ "$PRESET" = cpu ] && extra+=(--train_steps="$TRAIN_STEPS")
if [ -f "$OUT/run/config.json" ]; then
  # Resuming: the checkpoint holds every weight; keep the run's own setting.
  weights=$(python -c "import json,sys; print(json.load(open(sys.argv[1]))['model']['inception_weights'])" "$OUT/run/config.json")
  extra+=(--inception_weights="$weights")
elif ! python -c "from srs_tf.model.imagenet import ensure_imagenet_weights; ensure_imagenet_weights()" >/dev/null 2>&1; then
  echo "note: Keras' ImageNet weights for Inception-v3 are not in the Keras cache (srs_tf never"
  echo "      downloads them), so Inception-v3 starts from random weights (--inception_weights=none,"
  echo "      Table 2's no_pretrain network); batch-norm statistics are calibrated on the bank."
  extra+=(--inception_weights=none)
fi

stamp "3/5 training SRS (bin/train --preset=$PRESET; resumes if interrupted)"
run train --data_dir="$OUT/TFREC" --model_dir="$OUT/run" --preset="$PRESET" ${extra[@]+"${extra[@]}"}

stamp "4/5 evaluating on the test split (bin/evaluate)"
run evaluate --data_dir="$OUT/TFREC" --model_dir="$OUT/run" --split=test \
  --scores_out="$OUT/run/test_scores.tsv" | tee "$OUT/evaluate.log"

stamp "5/5 compared with the paper (Table 3, SRS row) and the demo's references"
python -m srs_tf.evaluation.paper_table "$OUT/run/eval_test.json" --stats="$OUT/DATA/stats.json"
stamp "done: run directory $OUT/run (TensorBoard: tensorboard --logdir $OUT/run/logs)"
