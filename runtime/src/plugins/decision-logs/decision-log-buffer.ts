/**
 * The bounded buffer between decisions and uploads, after OPA's size buffer
 * (`v1/plugins/logs/buffer.go`): when a new event does not fit, the oldest go first, and the
 * caller counts them. OPA bounds compressed chunks; this buffer bounds the events' JSON text,
 * so that what is dropped is whole events, oldest first, and the count is exact.
 */

/** One event, serialized once when it is recorded. */
export interface BufferedEvent {
  readonly decisionId: string;
  /** The event as JSON, in OPA's field order. */
  readonly json: string;
  /** UTF-8 length of `json`. */
  readonly bytes: number;
}

export class DecisionLogBuffer {
  private items: BufferedEvent[] = [];
  private size = 0;

  /** @param limitBytes largest total of `bytes` held; 0 means unbounded (OPA's default). */
  public constructor(private readonly limitBytes: number) {}

  public get length(): number {
    return this.items.length;
  }

  /** Total JSON bytes held. */
  public get bytes(): number {
    return this.size;
  }

  /**
   * Appends the newest event. Returns the events dropped to make room: the oldest, or the new
   * event itself when it alone is larger than the whole buffer.
   */
  public push(event: BufferedEvent): BufferedEvent[] {
    if (this.limitBytes > 0 && event.bytes > this.limitBytes) return [event];
    this.items.push(event);
    this.size += event.bytes;
    return this.shrink();
  }

  /**
   * Puts events that could not be uploaded back in front of the ones recorded since, in their
   * original order, so the next upload sends them first. Returns the events dropped to make room
   * (oldest first, which are the returned ones before any newer event).
   */
  public requeue(events: readonly BufferedEvent[]): BufferedEvent[] {
    if (events.length === 0) return [];
    const fitting = this.limitBytes > 0 ? events.filter((e) => e.bytes <= this.limitBytes) : events;
    const oversized = events.length === fitting.length ? [] : events.filter((e) => e.bytes > this.limitBytes);
    this.items = [...fitting, ...this.items];
    this.size += fitting.reduce((n, e) => n + e.bytes, 0);
    return [...oversized, ...this.shrink()];
  }

  /** Takes every event out, oldest first. */
  public drain(): BufferedEvent[] {
    const out = this.items;
    this.items = [];
    this.size = 0;
    return out;
  }

  /** Drops the oldest events until the buffer is within its limit. */
  private shrink(): BufferedEvent[] {
    if (this.limitBytes === 0 || this.size <= this.limitBytes) return [];
    let n = 0;
    let freed = 0;
    while (this.size - freed > this.limitBytes) freed += this.items[n++].bytes;
    this.size -= freed;
    return this.items.splice(0, n);
  }
}
