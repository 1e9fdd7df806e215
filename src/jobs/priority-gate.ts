// Webhooks before jobs (issue 14 part 4). On SQLite the webhook path and the worker share one connection,
// and a payment notification is what the provider waits on (it retries, and a launch-day burst is made of
// them), while a job's delay of a few milliseconds is nobody's wait. The webhook route holds the gate
// while it handles a notification; the worker, before each claim, waits until no notification is being
// handled, but never longer than its bound, so a steady stream of webhooks slows the worker without
// stopping it, and the jobs the burst queued run as soon as it thins.

/** What the webhook route holds while it handles a notification (http/ sees only this). */
export interface WebhookGate {
  enter(): void;
  leave(): void;
}

export class PriorityGate implements WebhookGate {
  private inFlight = 0;
  private readonly waiters = new Set<() => void>();

  enter(): void {
    this.inFlight++;
  }

  leave(): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (this.inFlight > 0) return;
    const woken = [...this.waiters];
    this.waiters.clear();
    for (const wake of woken) wake();
  }

  /** Waiters parked now (tests: a steady stream leaves none behind). */
  get waiting(): number {
    return this.waiters.size;
  }

  /** Resolves at once when nothing holds the gate, else when the last holder leaves or `timeout` resolves, whichever is first. */
  async idle(timeout: () => Promise<void>): Promise<void> {
    if (this.inFlight === 0) return;
    let wake!: () => void;
    const left = new Promise<void>((resolve) => {
      wake = resolve;
    });
    this.waiters.add(wake);
    try {
      await Promise.race([left, timeout()]);
    } finally {
      // A timed-out waiter is dropped here, so waiting under a steady stream keeps nothing behind.
      this.waiters.delete(wake);
    }
  }
}
