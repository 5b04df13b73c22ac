// Bind groups by their exact contents: the pipeline and each binding's (buffer, offset, size),
// written as numbers into a scratch key that the lookup hashes without building a string. A
// training step asks for a thousand bind groups and, in the steady state, finds them all here.

interface Entry { key: Float64Array; group: GPUBindGroup }

export class BindGroupCache {
  /** Scratch for the key: the caller writes its numbers here, then calls get/set with their count. */
  readonly key = new Float64Array(256);
  private readonly buckets = new Map<number, Entry[]>();
  private count = 0;

  constructor(private readonly capacity: number) {}

  get(n: number): GPUBindGroup | undefined {
    const list = this.buckets.get(this.hash(n));
    if (!list) return undefined;
    const key = this.key;
    outer: for (const e of list) {
      if (e.key.length !== n) continue;
      for (let i = 0; i < n; i++) if (e.key[i] !== key[i]) continue outer;
      return e.group;
    }
    return undefined;
  }

  /** Store `group` under the first n numbers of the scratch key (dropping everything when full). */
  set(n: number, group: GPUBindGroup): void {
    if (this.count >= this.capacity) this.clear();
    const h = this.hash(n);
    let list = this.buckets.get(h);
    if (!list) this.buckets.set(h, (list = []));
    list.push({ key: this.key.slice(0, n), group });
    this.count++;
  }

  clear(): void {
    this.buckets.clear();
    this.count = 0;
  }

  get size(): number { return this.count; }

  private hash(n: number): number {
    let h = n;
    for (let i = 0; i < n; i++) {
      const v = this.key[i];
      h = Math.imul(h ^ (v | 0) ^ ((v / 4294967296) | 0), 0x9e3779b1);
      h ^= h >>> 15;
    }
    return h;
  }
}
