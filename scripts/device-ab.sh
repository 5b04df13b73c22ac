#!/bin/bash
# A/B checks for kernel work on a lent GPU, in one short run (DEADLINE seconds, default 420),
# most important first, so that a run cut short still answers the main questions:
#  1. `bench step` BYOL ResNet-50 (batch 64, 224 px) with this tree's build (dist) and with a
#     baseline build (dist-old), alternately, then dist with --no-step-replay (host encoding
#     with and without step replay), then dist with COENGINE_FUSE_BN_STATS=1 against dist (batch
#     norm's statistics from the GEMM epilogue or from its own pass over the conv output), then
#     dist with COENGINE_GEMM_BIG=shared128x64 (the
#     candidate large tile) against dist; then one step of each with --profile (GPU time per
#     kernel: where the step goes, and which kernels a change moved), and one of dist with
#     --profile-shapes (each layer's GPU time and TFLOP/s as training runs it: the steady way to
#     read the convolutions' rates; bench kernels rows wandered 2× between processes on an H100);
#  2. `bench kernels` rows for batch norm and max pooling with both builds (bandwidth kernels);
#  3. `bench kernels --only conv2d` with this tree (default paths beside the phase-class strided
#     backward-data and the explicit im2col forward / weight gradient);
#  4. GEMM 4096³ under every tile config (bench kernels --sweep), double-buffered ones included;
#  5. without Dawn's robustness clamps (COENGINE_DAWN_ENABLE=disable_robustness): the conv
#     kernels, the step, and the WebGPU parity tests (does any kernel read out of bounds?);
#  6. a tile sweep of the ResNet-50 convolutions (COENGINE_GEMM_TILE forces one tile for all).
# Prepare here:
#   npm run build
#   git worktree add /tmp/base <baseline commit> && (root=$PWD; cd /tmp/base && ln -s "$root/node_modules" . && npx tsc -p .)
#   rm -rf dist-old && mkdir dist-old && cp -r /tmp/base/dist/* /tmp/base/kernels /tmp/base/package.json dist-old/
#   (dist-old carries its own kernels/ and package.json: the kernel files are found by walking up
#   to package.json, so without them the baseline would run this tree's kernels)
#   bash ../shared/device/pack.sh
# then run there with carry [".devpack", "dist", "dist-old"]:
#   source .devpack/enter.sh && bash scripts/device-ab.sh
set -uo pipefail
O=${OUT:-/tmp/device-ab}; mkdir -p "$O"
DEADLINE=${DEADLINE:-420}; MARKS="$O/timeline.txt"
source "$(dirname "$0")/device_common.sh"
{ nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader || echo "no nvidia-smi"; } > "$O/timeline.txt" 2>&1
[ -f dist-old/kernels/matmul_core.wgsl ] || echo "warning: dist-old has no kernels/ of its own: the baseline runs this tree's kernels" >> "$O/timeline.txt"
STEP=${STEP_ARGS:---method byol --arch resnet50 --batch 64 --size 224}
step() { # $1: dist folder, rest: env assignments
  local d=$1; shift
  timeout "$(left 30)" env "$@" node "$d/src/cli/main.js" bench step $STEP ${EXTRA:-} \
    --steps 4 --warmup 10 --json 2>&1 | quiet | tr -d '\n' | sed "s/^/{\"build\":\"$d $*${EXTRA:+ $EXTRA}\",\"result\":/; s/\$/}\n/; s/\"result\":}/\"result\":null}/" >> "$O/step.jsonl"
  mark "step $d $*${EXTRA:+ $EXTRA}"
}
step dist; step dist-old; step dist; step dist-old
# Host encoding with step replay (the default since the eighth session) and without it.
EXTRA=--no-step-replay step dist
# Batch-norm statistics made in the conv GEMMs' epilogue (opt-in since the tenth session) vs batch norm's own pass.
step dist COENGINE_FUSE_BN_STATS=1; step dist; step dist COENGINE_FUSE_BN_STATS=1
# The heuristic's large tile as a candidate would change it (see bigTile in ops/gemm.ts).
step dist COENGINE_GEMM_BIG=shared128x64; step dist; step dist COENGINE_GEMM_BIG=shared128x64
# Where the step's GPU time goes: every dispatch timed in its own pass, summed per kernel label.
for d in dist dist-old "dist COENGINE_FUSE_BN_STATS=1"; do
  set -- $d
  timeout "$(left 40)" env "${@:2}" node "$1/src/cli/main.js" bench step $STEP --steps 1 --warmup 3 --profile --json 2>&1 | quiet \
    | tr -d '\n' | sed "s/^/{\"build\":\"$d\",\"result\":/; s/\$/}\n/; s/\"result\":}/\"result\":null}/" >> "$O/step_profile.jsonl"; mark "step profile $d"
done
timeout "$(left 40)" node dist/src/cli/main.js bench step $STEP --steps 1 --warmup 3 --profile-shapes --json 2>&1 | quiet \
  | tr -d '\n' | sed "s/^/{\"build\":\"dist by shape\",\"result\":/; s/\$/}\n/; s/\"result\":}/\"result\":null}/" >> "$O/step_profile.jsonl"; mark "step profile by shape"
for d in dist dist-old; do
  for k in bn. maxpool; do
    timeout "$(left 20)" node "$d/src/cli/main.js" bench kernels --json --reps 10 --only "$k" 2>&1 | quiet | sed "s/^/{\"build\":\"$d\",\"row\":/; s/\$/}/" >> "$O/bandwidth.jsonl"
  done
  mark "bn + maxpool $d"
done
timeout "$(left 70)" node dist/src/cli/main.js bench kernels --json --reps 10 --only conv2d 2>&1 | quiet > "$O/kernels.jsonl"; mark kernels
timeout "$(left 90)" node dist/src/cli/main.js bench kernels --json --reps 10 --sweep --only gemm 2>&1 | quiet > "$O/gemm_sweep.jsonl"; mark "gemm sweep"
echo '{"note":"below: COENGINE_DAWN_ENABLE=disable_robustness"}' >> "$O/kernels.jsonl"  # at most 8 files come back
COENGINE_DAWN_ENABLE=disable_robustness timeout "$(left 70)" node dist/src/cli/main.js bench kernels --json --reps 10 --only conv2d 2>&1 | quiet >> "$O/kernels.jsonl"; mark "kernels no robustness"
step dist COENGINE_DAWN_ENABLE=disable_robustness
COENGINE_DAWN_ENABLE=disable_robustness timeout "$(left 40)" node node_modules/uvu/bin.js dist/test "webgpu/.*\.test\.js$" 2>&1 | quiet | sed 's/\x1b\[[0-9;]*m//g' | tail -25 > "$O/parity_norobust.txt"; mark parity
for t in ${TILES:-shared128bk8p shared128bk8pd shared64pd shared128x64}; do
  for k in conv2d.fwd conv2d.dw; do
    COENGINE_GEMM_TILE=$t timeout "$(left 15)" node dist/src/cli/main.js bench kernels --json --reps 5 --only "$k R50" 2>&1 | quiet | sed "s/^/{\"tile\":\"$t\",\"row\":/; s/\$/}/" >> "$O/tiles.jsonl"
  done
  mark "tile $t"
done
cat "$O/timeline.txt"
