import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Splits long synchronous work (reading a bundle of many files, hashing them) into slices, so the
 * event loop keeps answering decisions on the active bundles while a new one is read:
 * `if (pacer.due()) await pacer.yield()` inside the loop.
 */
export class Pacer {
  private last = performance.now();

  /** @param sliceMs the longest stretch of work between two turns of the event loop */
  public constructor(private readonly sliceMs = 4) {}

  /** True once the current slice has run for `sliceMs`. */
  public due(): boolean {
    return performance.now() - this.last >= this.sliceMs;
  }

  /** Lets pending I/O run, then starts a new slice. */
  public async yield(): Promise<void> {
    await nextTurn();
    this.last = performance.now();
  }
}
