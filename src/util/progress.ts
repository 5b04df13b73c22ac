// A small progress bar with rate and ETA, written to stderr so stdout stays clean for --json
// output. On a TTY it redraws one line; elsewhere (CI logs, pipes) it prints a line every few
// seconds so logs do not fill up with carriage returns.

export interface ProgressOptions {
  /** Where to draw; default process.stderr. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** false: draw nothing (tests, --quiet). */
  enabled?: boolean;
  /** Minimum time between redraws on a TTY (ms). */
  ttyIntervalMs?: number;
  /** Minimum time between lines when not a TTY (ms). */
  logIntervalMs?: number;
  /** Unit shown after the counts, e.g. "img". */
  unit?: string;
}

export class Progress {
  private done = 0;
  private readonly start = Date.now();
  private lastDraw = 0;
  private finished = false;
  private readonly stream: NodeJS.WritableStream & { isTTY?: boolean };
  private readonly enabled: boolean;
  private readonly tty: boolean;
  private readonly interval: number;
  private readonly unit: string;

  constructor(private readonly label: string, private readonly total: number, opts: ProgressOptions = {}) {
    this.stream = opts.stream ?? process.stderr;
    this.enabled = opts.enabled ?? true;
    this.tty = Boolean(this.stream.isTTY);
    this.interval = this.tty ? (opts.ttyIntervalMs ?? 100) : (opts.logIntervalMs ?? 5000);
    this.unit = opts.unit ?? '';
  }

  tick(n = 1): void { this.update(this.done + n); }

  update(done: number): void {
    this.done = Math.min(done, this.total);
    if (!this.enabled || this.finished || this.done >= this.total) return; // finish() draws the end
    const now = Date.now();
    if (now - this.lastDraw < this.interval) return;
    this.lastDraw = now;
    this.draw(false);
  }

  /** Draws the final state and ends the line. Safe to call twice. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.enabled) this.draw(true);
  }

  /** The text of the bar, without control characters (exposed for tests). */
  render(now = Date.now()): string {
    const elapsed = (now - this.start) / 1000;
    const frac = this.total > 0 ? this.done / this.total : 1;
    const width = 24;
    const filled = Math.round(frac * width);
    const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
    const rate = elapsed > 0 ? this.done / elapsed : 0;
    const unit = this.unit ? ` ${this.unit}` : '';
    const eta = this.done >= this.total ? `done in ${fmtDuration(elapsed)}`
      : rate > 0 ? `ETA ${fmtDuration((this.total - this.done) / rate)}` : 'ETA --:--';
    const pct = (frac * 100).toFixed(0).padStart(3);
    return `${this.label} [${bar}] ${pct}% ${this.done}/${this.total}${unit} ${fmtRate(rate)}${unit}/s ${eta}`;
  }

  private draw(final: boolean): void {
    const text = this.render();
    if (this.tty) this.stream.write(`\r${text}\x1b[K${final ? '\n' : ''}`);
    else this.stream.write(`${text}\n`);
  }
}

export function fmtDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = String(m).padStart(h > 0 ? 2 : 1, '0'), ss = String(r).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

function fmtRate(rate: number): string {
  if (rate >= 100) return rate.toFixed(0);
  if (rate >= 10) return rate.toFixed(1);
  return rate.toFixed(2);
}
