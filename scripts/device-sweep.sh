#!/bin/bash
# Tile-config sweeps on a lent GPU, in one short run (DEADLINE seconds, default 300), most
# important first: what decides the GEMM core's configs and the convolutions' tile choice.
#  1. GEMM 4096³ under every tile config (bench kernels --sweep);
#  2. ResNet-50's convolutions (forward, backward-data, backward-weight) under the heuristic
#     (tile "auto") and under each of TILES forced for every GEMM (COENGINE_GEMM_TILE);
#  3. one BYOL ResNet-50 step and its profile by kernel and shape (--profile-shapes: each
#     convolution layer's GPU time as it runs in training; steadier than the per-row figures of
#     bench kernels, which on an H100 wandered by 2× between processes);
#  4. the GEMM and convolution parity tests (on a GPU they check every tile config);
#  5. GEMM 4096³ again without Dawn's robustness clamps.
# Prepare here: npm run build && bash ../shared/device/pack.sh; run there with carry
# [".devpack", "dist"]:  source .devpack/enter.sh && bash scripts/device-sweep.sh
set -uo pipefail
O=${OUT:-/tmp/device-sweep}; mkdir -p "$O"
DEADLINE=${DEADLINE:-300}; MARKS="$O/timeline.txt"
source "$(dirname "$0")/device_common.sh"
{ nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader || echo "no nvidia-smi"; } > "$MARKS" 2>&1
timeout "$(left 90)" node dist/src/cli/main.js bench kernels --json --reps 10 --sweep --only "gemm" 2>&1 | quiet > "$O/gemm_sweep.jsonl"; mark "gemm sweep"
for t in auto ${TILES:-shared128x64 shared128bk8p shared64p}; do
  env $([ "$t" = auto ] || echo COENGINE_GEMM_TILE=$t) timeout "$(left 30)" node dist/src/cli/main.js bench kernels --json --reps 5 \
    --only "conv2d.fwd R50,conv2d.dx R50,conv2d.dw R50" 2>&1 | quiet | sed "s/^/{\"tile\":\"$t\",\"row\":/; s/\$/}/" >> "$O/conv_tiles.jsonl"
  mark "conv tile $t"
done
STEP=${STEP_ARGS:---method byol --arch resnet50 --batch 64 --size 224}
timeout "$(left 30)" node dist/src/cli/main.js bench step $STEP --steps 4 --warmup 10 --json 2>&1 | quiet | tr -d '\n' > "$O/step.json"; mark step
timeout "$(left 30)" node dist/src/cli/main.js bench step $STEP --steps 1 --warmup 3 --profile-shapes --json 2>&1 | quiet | tr -d '\n' > "$O/step_profile.json"; mark "step profile"
timeout "$(left 60)" node node_modules/uvu/bin.js dist/test "webgpu/(gemm|conv)\.test\.js$" 2>&1 | quiet | sed 's/\x1b\[[0-9;]*m//g' | tail -30 > "$O/parity.txt"; mark parity
echo '{"note":"below: COENGINE_DAWN_ENABLE=disable_robustness"}' >> "$O/gemm_sweep.jsonl"
COENGINE_DAWN_ENABLE=disable_robustness timeout "$(left 90)" node dist/src/cli/main.js bench kernels --json --reps 10 --sweep --only "gemm[" 2>&1 | quiet >> "$O/gemm_sweep.jsonl"; mark "gemm sweep no robustness"
cat "$MARKS"
