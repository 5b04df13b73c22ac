"""PyTorch fp32 baseline on the same GPU as a coengine device run (TF32 off, cuDNN on).

Prints JSON rows {kernel, shape, ms, gflops} for: a square GEMM, and the ResNet-50 conv
layers (forward, backward-data, backward-weight) at batch 64, 224 px, in NHWC-equivalent
shapes; then one BYOL-style step of ResNet-50 (2 views online fwd+bwd, target fwd). Run by
scripts/device-check.sh; needs torch (+ torchvision for the step).
"""
import json, sys, time
import torch

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.backends.cudnn.benchmark = True
dev = 'cuda'

def timeit(fn, reps=10, warmup=3):
    for _ in range(warmup): fn()
    torch.cuda.synchronize()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record()
    for _ in range(reps): fn()
    e.record(); torch.cuda.synchronize()
    return s.elapsed_time(e) / reps

rows = []
n = int(sys.argv[1]) if len(sys.argv) > 1 else 4096
a = torch.randn(n, n, device=dev); b = torch.randn(n, n, device=dev)
ms = timeit(lambda: a @ b)
rows.append({'kernel': 'torch gemm', 'shape': f'{n}x{n}x{n}', 'ms': ms, 'gflops': 2 * n**3 / ms / 1e6})

# ResNet-50 conv layers at batch 64 (input H, Cin, Cout, k, stride)
convs = [(56, 64, 64, 1, 1), (56, 64, 64, 3, 1), (56, 256, 128, 1, 1), (28, 128, 128, 3, 1), (14, 256, 256, 3, 1), (7, 512, 512, 3, 1), (224, 3, 64, 7, 2)]
for (H, ci, co, k, s) in convs:
    x = torch.randn(64, ci, H, H, device=dev, requires_grad=True).to(memory_format=torch.channels_last)
    conv = torch.nn.Conv2d(ci, co, k, s, k // 2, bias=False).to(dev).to(memory_format=torch.channels_last)
    y = conv(x); g = torch.randn_like(y)
    Ho = y.shape[2]
    flops = 2 * 64 * Ho * Ho * co * ci * k * k
    shape = f'N64 {H}x{H} {ci}->{co} k{k} s{s}'
    rows.append({'kernel': 'torch conv fwd', 'shape': shape, 'ms': (m := timeit(lambda: conv(x))), 'gflops': flops / m / 1e6})
    rows.append({'kernel': 'torch conv bwd data', 'shape': shape, 'ms': (m := timeit(lambda: torch.autograd.grad(conv(x), x, g))), 'gflops': 2 * flops / m / 1e6})

try:
    import torchvision
    def mlp(i, h, o): return torch.nn.Sequential(torch.nn.Linear(i, h), torch.nn.BatchNorm1d(h), torch.nn.ReLU(), torch.nn.Linear(h, o))
    online = torch.nn.ModuleDict({'f': torchvision.models.resnet50(), 'g': mlp(1000, 4096, 256), 'q': mlp(256, 4096, 256)}).to(dev).to(memory_format=torch.channels_last)
    target = torch.nn.ModuleDict({'f': torchvision.models.resnet50(), 'g': mlp(1000, 4096, 256)}).to(dev).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(online.parameters(), lr=0.1, momentum=0.9)
    v1 = torch.randn(64, 3, 224, 224, device=dev).to(memory_format=torch.channels_last); v2 = torch.randn_like(v1)
    def step():
        p1, p2 = online['q'](online['g'](online['f'](v1))), online['q'](online['g'](online['f'](v2)))
        with torch.no_grad(): z1, z2 = target['g'](target['f'](v1)), target['g'](target['f'](v2))
        cos = torch.nn.functional.cosine_similarity
        loss = (2 - 2 * cos(p1, z2).mean()) + (2 - 2 * cos(p2, z1).mean())
        opt.zero_grad(); loss.backward(); opt.step()
        with torch.no_grad():
            for pt, po in zip(target.parameters(), online.parameters()): pt.mul_(0.99).add_(po, alpha=0.01)
    torch.cuda.reset_peak_memory_stats()
    ms = timeit(step, reps=5, warmup=2)
    rows.append({'kernel': 'torch byol step resnet50', 'shape': 'B64 224px fp32', 'ms': ms, 'images_per_s': 64 * 1000 / ms,
                 'peak_gib': torch.cuda.max_memory_allocated() / 2**30})
except Exception as e:  # torchvision missing or OOM: the GEMM/conv rows still stand
    rows.append({'kernel': 'torch byol step resnet50', 'error': str(e)})

for r in rows: print(json.dumps(r))
