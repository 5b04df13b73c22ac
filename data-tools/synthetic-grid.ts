// Writes a PNG contact sheet of synthetic images (rows = classes) for eyeballing the generator:
//   node dist/data-tools/synthetic-grid.js OUT.png [perClass=8] [seed=0] [zoom=3]
import * as fs from 'node:fs';
import { SYNTHETIC_CLASSES, SYNTHETIC_SIZE, renderSynthetic } from '../src/data/synthetic.js';
import { encodePng } from '../test/data/fixtures/png-encode.js';

const [out = 'synthetic-grid.png', perArg = '8', seedArg = '0', zoomArg = '3'] = process.argv.slice(2);
const per = Number(perArg), seed = Number(seedArg), zoom = Number(zoomArg);
const S = SYNTHETIC_SIZE, pad = 2, nc = SYNTHETIC_CLASSES.length;
const cell = S * zoom + pad;
const W = per * cell, H = nc * cell;
const sheet = new Uint8Array(W * H * 3).fill(255);
const img = new Uint8Array(S * S * 3);
for (let c = 0; c < nc; c++) {
  for (let j = 0; j < per; j++) {
    renderSynthetic(seed, 'train', c + j * nc, img); // index ≡ c (mod 10) has label c
    for (let y = 0; y < S * zoom; y++) for (let x = 0; x < S * zoom; x++) {
      const s = (Math.floor(y / zoom) * S + Math.floor(x / zoom)) * 3;
      const d = ((c * cell + y) * W + j * cell + x) * 3;
      sheet[d] = img[s]; sheet[d + 1] = img[s + 1]; sheet[d + 2] = img[s + 2];
    }
  }
}
fs.writeFileSync(out, encodePng({ width: W, height: H, channels: 3, data: sheet }));
console.log(`wrote ${out}: rows = ${SYNTHETIC_CLASSES.join(', ')}`);
