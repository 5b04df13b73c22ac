#!/bin/bash
# Every GPU check in one run on a lent GPU machine (no Node.js there). Prepare here with
# `npm install && npm run build && bash ../shared/device/pack.sh`, then run there with carry
# [".devpack", "dist"] (plus "data" for FMNIST) as:
#   source .devpack/enter.sh && bash scripts/device-check.sh
# Two phases inside one deadline (DEADLINE seconds from the start, default 585):
#  A. timings on a quiet GPU, one at a time: kernels (GEMM, ResNet-50 convs, BN, pooling), the
#     same GEMM/conv kernels without Dawn's bounds clamps, training steps at batch 64 / 224 px,
#     and PyTorch fp32 on the same GPU;
#  B. what is judged by its result, not its speed, side by side: the default pretraining run
#     (PRETRAIN=1, EPOCHS to shorten it), BYOL vs CO-BYOL on prepared Fashion-MNIST (FMNIST=DIR),
#     and the WebGPU parity tests (with step replay's bit-identity checks in training). Their
#     images/s are not clean timings (they share the GPU).
# Results go to $OUT (8 files at most come back), written as each step ends; parity.txt holds
# the device, the timeline and the parity tests' output. Scratch files go to a fresh temp dir.
set -uo pipefail
O=${OUT:-/tmp/device-out}; mkdir -p "$O"
T=$(mktemp -d)
DEADLINE=${DEADLINE:-585}; MARKS="$O/parity.txt"
source "$(dirname "$0")/device_common.sh"
C="node dist/src/cli/main.js"
{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader; date -u; } > "$O/parity.txt" 2>&1
timeout 20 $C info --json >> "$O/parity.txt" 2>/dev/null
mark start

# ---- A. timings, one at a time ----
if [ "${PHASE_A:-1}" = 1 ]; then
  timeout "$(left 50)" $C bench kernels --json --reps 5 2>&1 | quiet > "$O/kernels.jsonl"; mark kernels
  echo '{"note":"below: COENGINE_DAWN_ENABLE=disable_robustness"}' >> "$O/kernels.jsonl"
  COENGINE_DAWN_ENABLE=disable_robustness timeout "$(left 25)" $C bench kernels --json --reps 5 --only "R50 l1 3x3" 2>&1 | quiet >> "$O/kernels.jsonl"
  COENGINE_DAWN_ENABLE=disable_robustness timeout "$(left 15)" $C bench kernels --json --reps 5 --only gemm 2>&1 | quiet >> "$O/kernels.jsonl"; mark robustness
  for spec in ${STEPS:-byol:resnet50 co-byol:resnet50 co-byol:rf99-resnet50}; do
    timeout "$(left 30)" $C bench step --method "${spec%%:*}" --arch "${spec#*:}" --batch "${STEP_BATCH:-64}" --size "${STEP_SIZE:-224}" \
      --steps 4 --warmup 10 --json 2>&1 | quiet >> "$O/step.jsonl"; mark "step $spec"
  done
  [ "${TORCH:-1}" = 1 ] && { timeout "$(left 40)" python3 bench/torch_baseline.py 4096 >> "$O/torch.jsonl" 2>&1; mark torch; }
fi

# ---- B. results, side by side ----
pids=()
if [ "${PRETRAIN:-0}" = 1 ]; then
  ep=(); [ -n "${EPOCHS:-}" ] && ep=(--epochs "$EPOCHS")
  ( timeout "$(left 600)" $C pretrain --out "$T/run" "${ep[@]}" --quiet --json > "$O/pretrain.json" 2>&1; mark "pretrain rc=$?" ) &
  pids+=($!)
fi
if [ -n "${FMNIST:-}" ]; then
  for m in byol co-byol; do
    ( timeout "$(left 600)" $C pretrain --data "$FMNIST" --method "$m" --epochs "${FM_EPOCHS:-10}" --seed 0 --out "$T/fm-$m" \
        --quiet --json > "$T/fm-$m.json" 2>&1; mark "fmnist $m rc=$?" ) &
    pids+=($!)
  done
fi
timeout "$(left 120)" node node_modules/uvu/bin.js dist/test "((webgpu|golden)/.*|training/step_replay)\.test\.js$" 2>&1 | quiet | sed 's/\x1b\[[0-9;]*m//g' | tail -60 >> "$O/parity.txt"
mark parity
for p in "${pids[@]}"; do wait "$p"; done
cp "$T/run/metrics.jsonl" "$O/metrics.jsonl" 2>/dev/null
for m in byol co-byol; do [ -f "$T/fm-$m.json" ] && { tr -d '\n' < "$T/fm-$m.json"; echo; } >> "$O/fmnist.jsonl"; done
for m in byol co-byol; do [ -f "$T/fm-$m/metrics.jsonl" ] && grep '"type":"epoch"' "$T/fm-$m/metrics.jsonl" | sed "s/^/$m /" >> "$O/fmnist.jsonl"; done
mark end
grep '^t+' "$O/parity.txt"; ls -la "$O"
