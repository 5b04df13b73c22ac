#!/bin/bash
# Every GPU check in one run on a lent GPU machine (no Node.js there): GPU parity tests, kernel
# and training-step benchmarks beside a PyTorch fp32 baseline, and a short default pretraining
# run. Prepare here with `npm install && bash ../shared/device/pack.sh`, then run there with
# carry [".devpack", "dist"] as:  source .devpack/enter.sh && bash scripts/device-check.sh
# Results go to $OUT (at most 8 files come back). Each step has its own time limit so one slow
# step cannot eat the others; BUDGET scales them (default 1 = about 5 minutes in all, 6.5 with PRETRAIN=1,
# and up to 3.5 more with FMNIST=DIR).
set -uo pipefail
O=${OUT:-/tmp/device-out}; mkdir -p "$O"
B=${BUDGET:-1}
t() { echo $(( ${1} * B )); }
C="node dist/src/cli/main.js"
quiet() { grep -v -E "artificially reduced|^Warning:" || true; }
export CI=true
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u; } > "$O/parity.txt" 2>&1
timeout "$(t 20)" $C info --json > "$O/info.json" 2>/dev/null

# 1. parity: every WGSL kernel vs the CPU backend, golden PyTorch fixtures on the GPU
timeout "$(t 60)" node node_modules/uvu/bin.js dist/test "(webgpu|golden)/.*\.test\.js$" 2>&1 | quiet | sed 's/\x1b\[[0-9;]*m//g' | tail -60 >> "$O/parity.txt"

# 2. training steps (the shapes: ResNet-50 / RF99-ResNet50, batch 64, 224 px)
for spec in "byol resnet50" "co-byol resnet50" "co-byol rf99-resnet50"; do
  set -- $spec
  timeout "$(t 35)" $C bench step --method "$1" --arch "$2" --batch 64 --size 224 --steps 4 --warmup 3 --json 2>&1 | quiet >> "$O/step.jsonl"
done

# 3. PyTorch fp32 on the same GPU (GEMM, ResNet-50 conv layers, BYOL step)
timeout "$(t 35)" python3 bench/torch_baseline.py 4096 >> "$O/torch.jsonl" 2>&1

# 4. kernels: GEMM and the ResNet-50 conv/BN/pool layers
timeout "$(t 40)" $C bench kernels --json --reps 5 2>&1 | quiet > "$O/kernels.jsonl"
# 4b. GEMM and conv kernels again without the bounds clamps Dawn adds to every storage access
#     (rows after the marker line; what robustness costs decides whether to turn it off)
echo '{"note":"below: COENGINE_DAWN_ENABLE=disable_robustness"}' >> "$O/kernels.jsonl"
COENGINE_DAWN_ENABLE=disable_robustness timeout "$(t 25)" $C bench kernels --json --reps 5 --only "R50 l1 3x3" 2>&1 | quiet >> "$O/kernels.jsonl"
COENGINE_DAWN_ENABLE=disable_robustness timeout "$(t 15)" $C bench kernels --json --reps 5 --only gemm 2>&1 | quiet >> "$O/kernels.jsonl"

# 5. the default pretraining job, shortened to fit the lease (PRETRAIN=1)
[ "${PRETRAIN:-0}" = 1 ] && timeout "$(t 70)" $C pretrain --out /tmp/run --epochs "${EPOCHS:-4}" --quiet --json > "$O/pretrain.json" 2>&1
cp /tmp/run/metrics.jsonl "$O/metrics.jsonl" 2>/dev/null

# 6. BYOL vs CO-BYOL on a prepared Fashion-MNIST subset, same budget and seed (FMNIST=DIR, made
#    here with `coengine data prepare --format idx /usr/share/datasets/fashion-mnist --out DIR
#    --train 10000 --test 2000` and carried along; FM_EPOCHS epochs each, GPU-sized defaults).
if [ -n "${FMNIST:-}" ]; then
  for m in byol co-byol; do
    timeout "$(t 100)" $C pretrain --data "$FMNIST" --method "$m" --epochs "${FM_EPOCHS:-10}" --seed 0 --out "/tmp/fm-$m" --quiet --json 2>/dev/null \
      | tr -d '\n' >> "$O/fmnist.jsonl"; echo >> "$O/fmnist.jsonl"
  done
fi
ls -la "$O"
