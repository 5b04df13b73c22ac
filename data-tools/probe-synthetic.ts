// Measures how linearly separable the built-in synthetic data set is from raw pixels:
//   node dist/data-tools/probe-synthetic.js [train=5000] [test=2000] [epochs=20] [seed=0]
// Prints train/test accuracy of a softmax-regression probe on standardised pixels.
import { SYNTHETIC_CLASSES, SYNTHETIC_SIZE, generateSynthetic } from '../src/data/synthetic.js';
import { linearProbe, pixelsToFloat } from '../test/data/fixtures/linear-probe.js';

const [nTr = 5000, nTe = 2000, epochs = 20, seed = 0] = process.argv.slice(2).map(Number);
const tr = generateSynthetic({ seed, split: 'train', count: nTr });
const te = generateSynthetic({ seed, split: 'test', count: nTe });
const d = SYNTHETIC_SIZE * SYNTHETIC_SIZE * 3, C = SYNTHETIC_CLASSES.length;
let t0 = Date.now();
const raw = linearProbe(pixelsToFloat(tr.images), tr.labels, pixelsToFloat(te.images), te.labels, d, C, { epochs });
console.log(`raw pixels: train ${(raw.trainAcc * 100).toFixed(1)}%  test ${(raw.testAcc * 100).toFixed(1)}%  (${nTr}/${nTe} images, ${epochs} epochs, ${((Date.now() - t0) / 1000).toFixed(1)} s; chance 10%)`);

