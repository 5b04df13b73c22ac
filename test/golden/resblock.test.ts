// A torchvision-BasicBlock-like residual block with a downsample branch, in training mode,
// against PyTorch (test/fixtures/core_resblock.json): output, input gradient, every parameter's
// gradient and the running statistics of the three batch norms after one step. It exercises
// conv2d, batchNorm, relu and add together, gradient accumulation where x feeds two branches,
// and loadStateDict with torchvision names. Runs on the CPU backend (f32, f64) and on WebGPU
// when an adapter exists.
import { test } from 'uvu';
import { add, backward, mul, relu, sum } from '../../src/ops/index.js';
import { BatchNorm2d, Conv2d, Module, Sequential, type LayerOptions } from '../../src/nn/index.js';
import { tidy, type Tensor } from '../../src/tensor.js';
import { cpuTargets, expectClose, fromFixture, loadFixture, webgpuTargetOrSkip, type Target } from '../helpers/fixtures.js';

const file = loadFixture('core_resblock.json');
const c = file.cases[0];
const gpu = await webgpuTargetOrSkip('golden resblock');
const targets: Target[] = [...cpuTargets(), ...(gpu ? [gpu] : [])];

/**
 * The block under test, built from the public nn layers with torchvision's child names so the
 * fixture's parameter names load unchanged. (Test-local until the model code has its own block.)
 */
class TinyBasicBlock extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly downsample: Sequential;
  constructor(cin: number, cout: number, stride: number, o: LayerOptions) {
    super();
    this.conv1 = this.child('conv1', new Conv2d(cin, cout, 3, { ...o, stride, padding: 1 }));
    this.bn1 = this.child('bn1', new BatchNorm2d(cout, o));
    this.conv2 = this.child('conv2', new Conv2d(cout, cout, 3, { ...o, stride: 1, padding: 1 }));
    this.bn2 = this.child('bn2', new BatchNorm2d(cout, o));
    this.downsample = this.child('downsample', new Sequential(new Conv2d(cin, cout, 1, { ...o, stride }), new BatchNorm2d(cout, o)));
  }
  forward(x: Tensor): Tensor {
    const h = relu(this.bn1.forward(this.conv1.forward(x)));
    const main = this.bn2.forward(this.conv2.forward(h));
    return relu(add(main, this.downsample.forward(x)));
  }
}

for (const t of targets) {
  test(`residual block ${c.name} matches PyTorch [${t.label}]`, async () => {
    const block = new TinyBasicBlock(Number(c.params.in_channels), Number(c.params.out_channels), Number(c.params.stride),
      { backend: t.backend, dtype: t.dtype });
    // Parameters from the fixture; buffers keep their fresh 0 / 1, as in the PyTorch run.
    const state = new Map<string, Tensor>();
    for (const [key, ft] of Object.entries(c.inputs)) {
      if (key.startsWith('param:')) state.set(key.slice('param:'.length), fromFixture(ft, t));
    }
    const { missing, unexpected } = block.loadStateDict(state, false);
    if (unexpected.length || missing.some((k) => !/running_mean|running_var|num_batches_tracked/.test(k))) {
      throw new Error(`loadStateDict: missing [${missing}], unexpected [${unexpected}]`);
    }
    for (const s of state.values()) s.dispose();

    const x = fromFixture(c.inputs.x, t, true);
    const dy = fromFixture(c.inputs.dy, t);
    const made = [x, dy];
    try {
      block.train();
      const y = tidy(() => {
        const out = block.forward(x);
        backward(sum(mul(out, dy)));
        return out;
      });
      made.push(y);
      await expectClose(y, c.outputs.y, t, 'y');
      await expectClose(x.grad, c.outputs.dx, t, 'dx');
      const own = block.stateDict();
      let checked = 0;
      for (const [key, ref] of Object.entries(c.outputs)) {
        const [kind, name] = key.split(':');
        if (!name) continue;
        const p = own.get(name);
        if (!p) throw new Error(`the block has no ${name} (fixture output ${key})`);
        await expectClose(kind === 'grad' ? p.grad : p, ref, t, key);
        checked++;
      }
      // 9 parameter gradients + 6 running statistics.
      if (checked !== 15) throw new Error(`checked ${checked} parameter/buffer outputs, expected 15`);
    } finally {
      for (const m of made) { m.grad?.dispose(); m.dispose(); }
      for (const [, p] of block.stateDict()) { p.grad?.dispose(); p.dispose(); }
    }
  });
}

test.run();
