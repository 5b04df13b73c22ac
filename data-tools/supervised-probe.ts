// Is the built-in synthetic dataset learnable by the small default backbone? Trains it
// supervised (cross-entropy, SGD) for a few epochs and prints test accuracy per epoch — the
// ceiling the self-supervised default run is compared against.
// Run: node dist/data-tools/supervised-probe.js [epochs] [width] [arch] [train] [data=synthetic] [size] [lr]
//   data: "synthetic" or a prepared dataset directory (its first `train` images are used);
//   size: training/evaluation view side (default: the images' own).
// Measured on lavapipe (RF29-ResNet10 ×1/16, 2,560 images, batch 32, 32 px): 11.0, 19.4, 30.3%
// after epochs 1–3 (raw pixels: 10.9%). The previous version of the dataset (8 outline shapes)
// stayed at 9.9–14.0% over 5 epochs, which is why parts are now told apart by texture.
import { initBackend } from '../src/backend/registry.js';
import { createBackbone } from '../src/models/presets.js';
import { Linear } from '../src/nn/layers.js';
import { manualSeed } from '../src/nn/init.js';
import { backward, crossEntropy, noGrad, tensor } from '../src/ops/index.js';
import { tidy } from '../src/tensor.js';
import { Rng } from '../src/runtime/rng.js';
import { Optimizer } from '../src/training/optim.js';
import { correctCount } from '../src/training/probe.js';
import { warmupCosine } from '../src/training/schedule.js';
import { loadTrainingData } from '../src/training/data.js';
import { augmentBatch, evalBatch } from '../src/data/augment.js';
import { evalView, multiCropView, sampleParams } from '../src/data/augment_params.js';

const epochs = Number(process.argv[2] ?? 3), width = Number(process.argv[3] ?? 0.0625), arch = process.argv[4] ?? 'rf29-resnet10';
const nTrain = Number(process.argv[5] ?? 2560), source = process.argv[6] ?? 'synthetic';
const be = await initBackend('auto');
const data = loadTrainingData({ source, seed: 0, trainCount: nTrain, testCount: 1000 });
const per = data.train.shape[0] * data.train.shape[1] * data.train.shape[2];
for (const [set, n] of [[data.train, nTrain], [data.test, 1000]] as const) {
  set.count = Math.min(set.count, n); set.images = set.images.subarray(0, set.count * per); set.labels = set.labels.subarray(0, set.count);
}
const size = Number(process.argv[7] ?? data.train.shape[0]), lr = Number(process.argv[8] ?? 0.05);
manualSeed(0);
const net = createBackbone(arch, { width, smallStem: true, backend: be });
const head = new Linear(net.featureDim, 10, { backend: be });
const opt = new Optimizer(be, [...net.namedParameters('net'), ...head.namedParameters('head')], { kind: 'sgd', weightDecay: 5e-4, momentum: 0.9 });
const images = tensor(data.train.images, [data.train.count, ...data.train.shape], { backend: be, dtype: 'u8' });
const testImages = tensor(data.test.images, [data.test.count, ...data.test.shape], { backend: be, dtype: 'u8' });
const train = multiCropView(size, [0.5, 1], data.mean, data.std), ev = evalView(size, data.mean, data.std);
const B = 32, steps = Math.floor(data.train.count / B), rng = new Rng(1);
for (let e = 0; e < epochs; e++) {
  const order = Int32Array.from({ length: data.train.count }, (_, i) => i); rng.shuffle(order);
  for (let s = 0; s < steps; s++) {
    const ids = order.subarray(s * B, (s + 1) * B);
    tidy(() => {
      const x = augmentBatch(images, tensor(ids, [B], { backend: be, dtype: 'i32' }), sampleParams(rng, B, data.train.shape[0], data.train.shape[1], train), train);
      const y = tensor(Int32Array.from(ids, (i) => data.train.labels[i]), [B], { backend: be, dtype: 'i32' });
      backward(crossEntropy(head.forward(net.forward(x)), y));
    });
    opt.step(warmupCosine(e * steps + s, epochs * steps, lr, steps));
  }
  net.eval();
  let correct = 0;
  for (let s = 0; s < data.test.count; s += 250) {
    const c = tidy(() => noGrad(() => correctCount(head.forward(net.forward(evalBatch(testImages, s, 250, ev))),
      tensor(data.test.labels.subarray(s, s + 250), [250], { backend: be, dtype: 'i32' }))));
    correct += await c.item();
  }
  net.train();
  console.log(`epoch ${e + 1}: supervised test accuracy ${(100 * correct / data.test.count).toFixed(1)}%`);
}
process.exit(0);
