#!/bin/bash
# A short measuring run on a lent GPU, most important first (DEADLINE seconds, default 300):
#  1. the WebGPU parity tests (test/webgpu) on the real GPU;
#  2. `bench step` BYOL ResNet-50 (batch 64, 224 px): this tree (dist) against a baseline build
#     (dist-old), alternately; dist with --no-step-replay (host encoding) and with
#     COENGINE_FUSE_BN_STATS=1 (batch norm's statistics from the GEMM epilogue);
#  3. one profiled step per kernel (--profile) and per kernel and shape (--profile-shapes: each
#     layer's TFLOP/s as training runs it);
#  4. the default GEMM 4096³ row, and PyTorch fp32 on the same GPU (bench/torch_baseline.py).
# (The profiles run before MORE_STEPS: they are short, and --tune runs are long.)
# Knobs: AB="dist COENGINE_X=1;dist-new" (semicolon-separated "folder env..." specs) replaces the
# dist-old arm; EXTRA_STEPS=0 skips the --no-step-replay and fusion-off steps; PROFILES lists the
# profiled steps as "folder env... --profile[-shapes]" specs (semicolon-separated); TESTS narrows
# the parity tests (a regex on test/webgpu file names; EXTRA_TESTS="models/batchnorm_fold" adds
# other test files, a regex on paths under test/); MORE_STEPS adds `bench step` runs of dist
# with other arguments ("--method co-byol --arch rf99-resnet50;COENGINE_FOLD_BN=0 --method ...":
# environment assignments first; up to 2 minutes each: --tune runs fourteen profiled steps); GEMM=0 and TORCH=0 skip those;
# SWEEP="shared128bk8p,shared128x64" times GEMM 4096³ under those tile configs (bare names are
# GEMM_TILES, bracketed ones any row of bench kernels --sweep; after the parity tests; SWEEP_ARGS
# adds options, e.g. "--quick --reps 1" for a dry run on lavapipe);
# ROUNDS=0 skips the A/B steps (default 2 rounds of dist and each arm); LAYERS="dist resnet50;dist
# COENGINE_GEMM_GEN=1 resnet50" times every distinct convolution of each backbone at batch 64
# (bench kernels --layers, each row as a share of GEMM 4096³ timed in the same process; after the
# sweep, about a minute each on an H100). STATS=1 records the driver's statistics of every
# pipeline (registers per thread, spills: `coengine --pipeline-stats`) in pipeline_stats.jsonl,
# in runs of their own (a layer fault costs those only): the SWEEP tiles at one rep, and one
# step of $STEP; build the layer here first (bash bench/vk-stats/build.sh) and carry
# bench/vk-stats/build too. Prepare as in scripts/device-ab.sh;
# run with carry [".devpack", "dist", "dist-old"]: source .devpack/enter.sh && bash scripts/device-measure.sh
set -uo pipefail
O=${OUT:-/tmp/device-measure}; mkdir -p "$O"
DEADLINE=${DEADLINE:-300}; MARKS="$O/timeline.txt"
source "$(dirname "$0")/device_common.sh"
{ nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader || echo "no nvidia-smi"; date -u; } > "$MARKS" 2>&1
STEP=${STEP_ARGS:---method byol --arch resnet50 --batch 64 --size 224}
# A label as a JSON string (awk reads it from the environment: -v would interpret its backslashes).
jstr='function jstr(s,  o, i, c) { for (i = 1; i <= length(s); i++) { c = substr(s, i, 1); o = o (c == "\\" ? "\\\\" : c == "\"" ? "\\\"" : c == "\t" ? "\\t" : c) } return "\"" o "\"" }'
# {"build": label, "result": the JSON on stdin, or null}; awk, not sed: labels hold paths (slashes)
wrap() { tr -d '\n' | L="$1" awk "$jstr"' { r = r $0 } END { if (r == "") r = "null"; printf "{\"build\":%s,\"result\":%s}\n", jstr(ENVIRON["L"]), r }'; }
# Each JSON line on stdin with "run": label first.
tag() { L="$1" awk "$jstr"' /^\{/ { print "{\"run\":" jstr(ENVIRON["L"]) "," substr($0, 2); next } { print }'; }
# spec "folder VAR=x ... args...": sets D (the build folder), ENVS (the assignments), ARGS (the rest)
spec() { set -- $1; D=$1; shift; ENVS=(); while [ $# -gt 0 ] && [[ $1 == *=* ]]; do ENVS+=("$1"); shift; done; ARGS=("$@"); }
step() { # "folder env...", extra args
  local s=$1; shift; spec "$s $*"
  timeout "$(left 40)" env "${ENVS[@]}" node "$D/src/cli/main.js" bench step $STEP "${ARGS[@]}" --steps 4 --warmup 10 --json 2>&1 \
    | quiet | wrap "$s $*" >> "$O/step.jsonl"
  mark "step $s $*"
}
if [ "${PARITY:-1}" = 1 ]; then
  pattern="webgpu/${TESTS:-.*}"; [ -n "${EXTRA_TESTS:-}" ] && pattern="($pattern|$EXTRA_TESTS)"
  timeout "$(left 75)" node node_modules/uvu/bin.js dist/test "$pattern\.test\.js$" 2>&1 | quiet \
    | sed 's/\x1b\[[0-9;]*m//g' | tail -30 > "$O/parity.txt"; mark parity
fi
only=; [ -n "${SWEEP:-}" ] && only=$(echo "$SWEEP" | tr ',' '\n' | sed '/\[/!s/.*/gemm[&]/' | paste -sd, -)  # bare names: gemm[name]
if [ "${STATS:-0}" = 1 ]; then  # the driver's view of each pipeline, in runs of their own
  if [ -f bench/vk-stats/build/libVkLayer_coengine_pipeline_stats.so ]; then
    PS=(node dist/src/cli/main.js --pipeline-stats "$O/pipeline_stats.jsonl")
    [ -n "$only" ] && timeout "$(left 40)" "${PS[@]}" bench kernels --json --reps 1 --sweep --only "$only" ${SWEEP_ARGS:-} 2>&1 | quiet > "$O/stats_runs.txt"
    timeout "$(left 40)" "${PS[@]}" bench step $STEP --steps 1 --warmup 0 --json 2>&1 | quiet >> "$O/stats_runs.txt"
    mark stats
  else
    echo "STATS=1: bench/vk-stats/build was not carried; no pipeline statistics" >> "$MARKS"
  fi
fi
if [ -n "${SWEEP:-}" ]; then  # GEMM 4096³ under the listed tile configs (comma-separated)
  timeout "$(left 90)" node dist/src/cli/main.js bench kernels --json --reps 10 --sweep --only "$only" ${SWEEP_ARGS:-} 2>&1 | quiet > "$O/sweep.jsonl"
  mark sweep
fi
IFS=';' read -r -a LAYER_RUNS <<< "${LAYERS:-}"
for l in "${LAYER_RUNS[@]}"; do  # "folder env... arch": the issue's per-layer target at batch 64
  [ -n "${l// /}" ] || continue
  spec "$l"
  timeout "$(left 90)" env "${ENVS[@]}" node "$D/src/cli/main.js" bench kernels --json --reps 5 --gemm-reference 4096 \
    --layers "${ARGS[@]}" 2>&1 | quiet | tag "$l" >> "$O/layers.jsonl"  # later options win
  mark "layers $l"
done
IFS=';' read -r -a ARMS <<< "${AB:-dist-old}"
for r in $(seq 1 "${ROUNDS:-2}"); do step dist; for a in "${ARMS[@]}"; do [ -n "${a// /}" ] && step "$a"; done; done
if [ "${EXTRA_STEPS:-1}" = 1 ]; then step dist --no-step-replay; step "dist COENGINE_FUSE_BN_STATS=1"; fi
IFS=';' read -r -a PROFS <<< "${PROFILES:-dist --profile;dist --profile-shapes}"
for p in "${PROFS[@]}"; do
  [ -n "${p// /}" ] || continue  # PROFILES=" ": none
  spec "$p"
  timeout "$(left 45)" env "${ENVS[@]}" node "$D/src/cli/main.js" bench step $STEP --steps 1 --warmup 3 "${ARGS[@]}" --json 2>&1 | quiet \
    | wrap "$p" >> "$O/step_profile.jsonl"; mark "profile $p"
done
IFS=';' read -r -a MORE <<< "${MORE_STEPS:-}"
for args in "${MORE[@]}"; do  # "VAR=x ... args": environment assignments first, as in PROFILES
  [ -n "${args// /}" ] || continue
  spec "dist $args"
  timeout "$(left 120)" env "${ENVS[@]}" node dist/src/cli/main.js bench step "${ARGS[@]}" --steps 4 --warmup 10 --json 2>&1 | quiet | wrap "dist $args" >> "$O/step.jsonl"
  mark "step dist $args"
done
[ "${GEMM:-1}" = 1 ] && { timeout "$(left 20)" node dist/src/cli/main.js bench kernels --json --reps 10 --only "gemm" 2>&1 | quiet > "$O/gemm.jsonl"; mark gemm; }
[ "${TORCH:-1}" = 1 ] && { timeout "$(left 80)" python3 bench/torch_baseline.py 4096 > "$O/torch.jsonl" 2>&1; mark torch; }
cat "$MARKS"
