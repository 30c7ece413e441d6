interface HostSlots {
  active: number;
  /** Callers waiting for a slot, oldest first; created on the first wait. */
  waiters: Array<() => void> | undefined;
}

/**
 * At most `limit` holders per host at a time; later callers wait in arrival order. A host's entry
 * exists only while it has holders or waiters, so the map stays as small as the work in flight
 * however many distinct hosts pass through.
 */
export class HostLimiter {
  readonly #limit: number;
  readonly #hosts = new Map<string, HostSlots>();

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`limit must be an integer >= 1 (got ${limit})`);
    this.#limit = limit;
  }

  /** Hosts with a holder or a waiter. */
  get hosts(): number {
    return this.#hosts.size;
  }

  /** Takes a slot if one is free, without waiting. */
  tryAcquire(host: string): boolean {
    const slots = this.#hosts.get(host);
    if (slots === undefined) {
      this.#hosts.set(host, { active: 1, waiters: undefined });
      return true;
    }
    if (slots.active < this.#limit) {
      slots.active++;
      return true;
    }
    return false;
  }

  /** Resolves once the caller holds a slot for `host`; pair every acquire with one `release`. */
  acquire(host: string): Promise<void> {
    if (this.tryAcquire(host)) return Promise.resolve();
    const slots = this.#hosts.get(host)!;
    slots.waiters ??= [];
    const waiters = slots.waiters;
    return new Promise((resolve) => {
      waiters.push(resolve);
    });
  }

  /** Gives a slot back: it passes straight to the oldest waiter, if any. */
  release(host: string): void {
    const slots = this.#hosts.get(host);
    if (slots === undefined) throw new Error(`release of ${host} without a matching acquire`);
    const next = slots.waiters?.shift();
    if (next !== undefined) {
      next();
      return;
    }
    slots.active--;
    if (slots.active === 0) this.#hosts.delete(host);
  }
}
