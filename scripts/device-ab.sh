#!/bin/bash
# A/B checks for kernel work on a lent GPU, in one short run (DEADLINE seconds, default 300):
#  1. `bench step` BYOL ResNet-50 (batch 64, 224 px) with this tree's build (dist) and with a
#     baseline build (dist-old, e.g. the last commit built in a worktree), alternately; then one
#     step with --profile (GPU time per kernel);
#  2. `bench kernels --only conv2d` with this tree (default paths beside the phase-class strided
#     backward-data and the explicit im2col forward / weight gradient), then again without Dawn's robustness clamps
#     (COENGINE_DAWN_ENABLE=disable_robustness), and the step likewise;
#  3. the WebGPU parity tests without the clamps (does any kernel read out of bounds?);
#  4. a tile sweep of the ResNet-50 convolutions (COENGINE_GEMM_TILE forces one tile for all);
#  5. GEMM 4096³ under every tile config (bench kernels --sweep), double-buffered ones included.
# Prepare here: npm run build; build the baseline into dist-old; bash ../shared/device/pack.sh;
# run there with carry [".devpack", "dist", "dist-old"]:
#   source .devpack/enter.sh && bash scripts/device-ab.sh
set -uo pipefail
O=${OUT:-/tmp/device-ab}; mkdir -p "$O"
DEADLINE=${DEADLINE:-300}; MARKS="$O/timeline.txt"
source "$(dirname "$0")/device_common.sh"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader > "$O/timeline.txt" 2>&1
step() { # $1: dist folder, rest: env assignments
  local d=$1; shift
  env "$@" timeout "$(left 30)" node "$d/src/cli/main.js" bench step ${STEP_ARGS:---method byol --arch resnet50 --batch 64 --size 224} \
    --steps 4 --warmup 10 --json 2>&1 | quiet | tr -d '\n' | sed "s/^/{\"build\":\"$d $*\",\"result\":/; s/\$/}\n/" >> "$O/step.jsonl"
  mark "step $d $*"
}
step dist; step dist-old; step dist; step dist-old
# Where the step's GPU time goes: every dispatch timed in its own pass, summed per kernel label.
timeout "$(left 40)" node dist/src/cli/main.js bench step ${STEP_ARGS:---method byol --arch resnet50 --batch 64 --size 224} \
  --steps 1 --warmup 3 --profile --json 2>&1 | quiet > "$O/step_profile.json"; mark "step profile"
timeout "$(left 70)" node dist/src/cli/main.js bench kernels --json --reps 10 --only conv2d 2>&1 | quiet > "$O/kernels.jsonl"; mark kernels
COENGINE_DAWN_ENABLE=disable_robustness timeout "$(left 70)" node dist/src/cli/main.js bench kernels --json --reps 10 --only conv2d 2>&1 | quiet > "$O/kernels_norobust.jsonl"; mark "kernels no robustness"
step dist COENGINE_DAWN_ENABLE=disable_robustness
COENGINE_DAWN_ENABLE=disable_robustness timeout "$(left 40)" node node_modules/uvu/bin.js dist/test "webgpu/.*\.test\.js$" 2>&1 | quiet | sed 's/\x1b\[[0-9;]*m//g' | tail -25 > "$O/parity_norobust.txt"; mark parity
for t in ${TILES:-shared128bk8p shared128bk8pd shared64pd shared128x64}; do
  for k in conv2d.fwd conv2d.dw; do
    COENGINE_GEMM_TILE=$t timeout "$(left 15)" node dist/src/cli/main.js bench kernels --json --reps 5 --only "$k R50" 2>&1 | quiet | sed "s/^/{\"tile\":\"$t\",\"row\":/; s/\$/}/" >> "$O/tiles.jsonl"
  done
  mark "tile $t"
done
timeout "$(left 90)" node dist/src/cli/main.js bench kernels --json --reps 10 --sweep --only gemm 2>&1 | quiet > "$O/gemm_sweep.jsonl"; mark "gemm sweep"
cat "$O/timeline.txt"
