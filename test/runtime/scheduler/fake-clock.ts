/** A wall clock the test moves by hand, in epoch milliseconds like Date.now. */
export class FakeClock {
  public constructor(private t = Date.UTC(2026, 0, 1)) {}

  public readonly now = (): number => this.t;

  public advance(ms: number): void {
    this.t += ms;
  }
}
