// Errors a user can act on. Shape errors carry every shape involved so a wrong call is
// diagnosed in TypeScript, before any GPU work is recorded.
export class ShapeError extends Error {
  override name = 'ShapeError';
}

export class BackendError extends Error {
  override name = 'BackendError';
}

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

export function shapeError(op: string, detail: string, shapes: Record<string, readonly number[]>): ShapeError {
  const parts = Object.entries(shapes).map(([k, s]) => `${k} ${fmtShape(s)}`);
  return new ShapeError(`${op}: ${detail} (${parts.join(', ')})`);
}
