import type { z } from 'zod';
import { invalid } from '../domain/errors.ts';

/** Parses untrusted input with a zod schema; the first problem becomes one clear line. */
export function parseInput<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const r = schema.safeParse(input ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = issue.path.join('.');
  throw invalid(path ? `${path}: ${issue.message}` : issue.message);
}
