// Writing into a SQLite file that was deleted or replaced under the running service loses data for good:
// the rows land in an inode nobody reads again, so a paid notification answered 2xx would never be
// booked once the file is restored. Every writer that runs on its own (payment webhooks, the job worker,
// the scheduler's sweeps) asks here first and stands still while the store reports its file gone: a
// webhook is answered 503 so the provider retries later, no job is claimed, no sweep runs.
// The check is Store.storageState() (a stat; the same one /healthz uses through ping), and the log says
// so once per store when it goes bad and once when it is good again, not on every request.
import type { Logger, Store } from './ports.ts';

const reported = new WeakMap<Store, boolean>();

/** Null when writes are safe; otherwise why not (already logged, once). */
export function storageProblem(store: Store, logger: Logger): string | null {
  const s = store.storageState();
  const wasBad = reported.get(store) === true;
  if (s.state === 'ok') {
    if (wasBad) {
      reported.set(store, false);
      logger.info({}, 'database file is back: webhooks, jobs and sweeps resume');
    }
    return null;
  }
  if (!wasBad) {
    reported.set(store, true);
    logger.error({ err: s.message }, 'database file gone: webhooks answer 503, no jobs are claimed and no sweeps run until it is restored');
  }
  return s.message;
}
