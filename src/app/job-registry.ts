// One registry of job kinds: each kind names its payload schema and its handler in one place. The core
// kinds are registered by createJobHandlers (job-handlers.ts), the chat adapters' own kinds by the adapter
// (`registerJobKinds`). A payload that does not parse is a dead letter that says why, never a crash.
import { z } from 'zod';
import { ProviderRejectedError } from '../domain/errors.ts';
import type { JobEffects, JobHandler, JobRun } from './job-handlers.ts';
import type { Job } from './model.ts';
import type { Lane, NewJob } from './ports.ts';

/** A job kind: its name and the schema every payload of that kind parses with (jobs already queued included). */
export interface JobKind<S extends z.ZodType> {
  readonly kind: string;
  readonly schema: S;
  /** A job of this kind, its payload typed by the schema. */
  job(payload: z.input<S>, opts: { lane: Lane; dedupeKey?: string; maxAttempts?: number; about?: NewJob['about'] }): NewJob;
}

export function defineJobKind<S extends z.ZodType>(kind: string, schema: S): JobKind<S> {
  return {
    kind,
    schema,
    job: (payload, opts) => ({
      kind,
      payload,
      lane: opts.lane,
      ...(opts.dedupeKey ? { dedupeKey: opts.dedupeKey } : {}),
      ...(opts.maxAttempts ? { maxAttempts: opts.maxAttempts } : {}),
      ...(opts.about ? { about: opts.about } : {}),
    }),
  };
}

export type TypedJobHandler<S extends z.ZodType> = (payload: z.output<S>, job: Job, run: JobRun) => Promise<JobEffects | void>;

/** The payload of `job`, parsed by the kind's schema; a payload that does not parse is given up on at once. */
export function parsePayload<S extends z.ZodType>(def: JobKind<S>, job: Job): z.output<S> {
  const r = def.schema.safeParse(job.payload);
  if (!r.success) throw new ProviderRejectedError('worker', `job ${job.id} (${def.kind}): payload does not parse: ${z.prettifyError(r.error)}`);
  return r.data;
}

export class JobRegistry {
  /** What the worker runs, by kind. */
  readonly handlers: Record<string, JobHandler> = {};

  /** Registers a kind once; a second registration of the same name is a programming error. */
  register<S extends z.ZodType>(def: JobKind<S>, handler: TypedJobHandler<S>): void {
    if (Object.hasOwn(this.handlers, def.kind)) throw new Error(`job kind "${def.kind}" registered twice`);
    this.handlers[def.kind] = (job, run) => handler(parsePayload(def, job), job, run);
  }
}
