/**
 * Splits long synchronous work (reading a bundle of many files, hashing them) into slices, so the
 * event loop keeps answering decisions on the active bundles while a new one is read:
 * `if (pacer.due()) await pacer.yield()` inside the loop.
 *
 * Timed with `process.hrtime` and paced with the global `setImmediate`: the global `performance`
 * loads `node:perf_hooks` (nine modules) and `node:timers/promises` is a module load too, both on
 * the way to the first `/event/next`, where every embedded bundle is read through a pacer.
 */
export class Pacer {
  private last = nowMs();

  /** @param sliceMs the longest stretch of work between two turns of the event loop */
  public constructor(private readonly sliceMs = 4) {}

  /** True once the current slice has run for `sliceMs`. */
  public due(): boolean {
    return nowMs() - this.last >= this.sliceMs;
  }

  /** Lets pending I/O run, then starts a new slice. */
  public async yield(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.last = nowMs();
  }
}

/** A monotonic clock in milliseconds. */
function nowMs(): number {
  const [seconds, nanoseconds] = process.hrtime();
  return seconds * 1e3 + nanoseconds / 1e6;
}
