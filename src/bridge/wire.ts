/** What crosses the bridge: the reply envelope and the numbers that may be non-finite (see py_kernels/wire.py). */
import { z } from 'zod';

/** Python's NaN and infinities arrive as this marker, never as bare JSON (which would kill Node's IPC parser). */
export const nonFiniteSchema = z.object({ $nonfinite: z.literal(['NaN', 'Infinity', '-Infinity']) }).strict(); // a literal, not z.enum: tsc emits the enum's '-Infinity' key as [-Infinity], invalid in a .d.ts
export type NonFinite = z.infer<typeof nonFiniteSchema>;

/** A number that may be NaN or infinite, with that case explicit in the type. */
export const realSchema = z.union([z.number(), nonFiniteSchema]);
export type Real = z.infer<typeof realSchema>;

export function isNonFinite(value: unknown): value is NonFinite {
  return nonFiniteSchema.safeParse(value).success;
}

/** The plain JavaScript number of a `Real` (NaN, Infinity or -Infinity for the marked cases). */
export function toNumber(value: Real): number {
  if (typeof value === 'number') return value;
  return value.$nonfinite === 'NaN' ? Number.NaN : value.$nonfinite === 'Infinity' ? Infinity : -Infinity;
}

export const pythonExceptionSchema = z.object({
  type: z.string(),
  module: z.string(),
  message: z.string(),
  traceback: z.string(),
});

export const envelopeSchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), value: z.unknown() }),
  z.object({ ok: z.literal(false), error: pythonExceptionSchema }),
]);

/** A progress event sent by Python during a long call (py_kernels/progress.py), at most a few per second. */
export const progressEventSchema = z
  .object({ stage: z.string(), done: z.number().int().nonnegative(), total: z.number().int().nonnegative() })
  .catchall(realSchema);
export type ProgressEvent = z.infer<typeof progressEventSchema>;
