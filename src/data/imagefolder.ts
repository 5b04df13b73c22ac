// Finds the images and labels of an ImageFolder-style tree. Two layouts:
//   ImageNet-100 / torchvision: SRC/train/<class>/*.JPEG and SRC/val/<class>/* (or SRC/test/…)
//   Tiny-ImageNet:              SRC/train/<wnid>/images/*.JPEG, SRC/val/images/*.JPEG and
//                               SRC/val/val_annotations.txt ("<file>\t<wnid>\t…" per line)
// Classes are the sorted train folder names (torchvision's convention); files are sorted.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DatasetError } from './format.js';

export interface LabelledFiles { files: string[]; labels: Int32Array }
export interface ImageFolderScan {
  layout: 'imagefolder' | 'tiny-imagenet';
  classes: string[];
  train: LabelledFiles;
  test: LabelledFiles;
  testDir: string;
}

const IMAGE_EXT = /\.(jpe?g|png)$/i;

function isDir(p: string): boolean {
  try { return fs.statSync(p).isDirectory(); } catch { return false; }
}

function readDir(dir: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    throw new DatasetError(`cannot read directory ${dir}: ${(e as Error).message}`);
  }
}

function imagesIn(dir: string): string[] {
  const names = readDir(dir).filter((e) => !e.name.startsWith('.') && (e.isFile() || e.isSymbolicLink()) && IMAGE_EXT.test(e.name))
    .map((e) => e.name).sort();
  if (names.length === 0) throw new DatasetError(`class folder ${dir} contains no images (*.jpg, *.jpeg, *.png)`);
  return names.map((n) => path.join(dir, n));
}

/** The folder holding a class's images: <class>/images when present (Tiny-ImageNet), else <class>. */
function classImageDir(classDir: string): string {
  const sub = path.join(classDir, 'images');
  return isDir(sub) ? sub : classDir;
}

function classFolders(dir: string): string[] {
  return readDir(dir).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
}

function collect(root: string, classes: string[], classIndex: Map<string, number>, names: string[]): LabelledFiles {
  const files: string[] = [], labels: number[] = [];
  for (const c of names) {
    const label = classIndex.get(c);
    if (label === undefined) throw new DatasetError(`${path.join(root, c)}: class "${c}" does not exist in the train split (${classes.length} classes)`);
    for (const f of imagesIn(classImageDir(path.join(root, c)))) { files.push(f); labels.push(label); }
  }
  return { files, labels: Int32Array.from(labels) };
}

export function scanImageFolder(src: string): ImageFolderScan {
  if (!isDir(src)) throw new DatasetError(`ImageFolder source ${src} is not a readable directory`);
  const trainDir = path.join(src, 'train');
  if (!isDir(trainDir)) throw new DatasetError(`${src}: no train/ folder (expected SRC/train/<class>/… and SRC/val/<class>/…, or the Tiny-ImageNet layout)`);
  const classes = classFolders(trainDir);
  if (classes.length === 0) throw new DatasetError(`${trainDir}: no class folders`);
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  const train = collect(trainDir, classes, classIndex, classes);

  const annotations = path.join(src, 'val', 'val_annotations.txt');
  if (fs.existsSync(annotations)) {
    const imagesDir = path.join(src, 'val', 'images');
    let text: string;
    try { text = fs.readFileSync(annotations, 'utf8'); } catch (e) { throw new DatasetError(`cannot read ${annotations}: ${(e as Error).message}`); }
    const rows: [string, number][] = [];
    text.split(/\r?\n/).forEach((line, i) => {
      if (line.trim() === '') return;
      const [file, wnid] = line.split('\t');
      const label = classIndex.get(wnid?.trim() ?? '');
      if (!file || label === undefined) throw new DatasetError(`${annotations}:${i + 1}: unknown class ${JSON.stringify(wnid)} or malformed line`);
      rows.push([file.trim(), label]);
    });
    if (rows.length === 0) throw new DatasetError(`${annotations}: no annotations`);
    rows.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const files = rows.map(([f]) => path.join(imagesDir, f));
    for (const f of files) if (!fs.existsSync(f)) throw new DatasetError(`${annotations} lists ${f}, which does not exist`);
    return { layout: 'tiny-imagenet', classes, train, test: { files, labels: Int32Array.from(rows.map((r) => r[1])) }, testDir: path.join(src, 'val') };
  }
  const testDir = ['val', 'test'].map((d) => path.join(src, d)).find(isDir);
  if (!testDir) throw new DatasetError(`${src}: no val/ or test/ folder`);
  const testClasses = classFolders(testDir);
  if (testClasses.length === 0) throw new DatasetError(`${testDir}: no class folders`);
  return { layout: 'imagefolder', classes, train, test: collect(testDir, classes, classIndex, testClasses), testDir };
}
