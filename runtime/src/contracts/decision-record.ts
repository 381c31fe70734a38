/**
 * What the server tells the decision-log plugin about each decision it answered, with OPA's
 * decision-log fields (https://www.openpolicyagent.org/docs/management-decision-logs). The plugin
 * turns it into an event; the server only hands it over.
 */
export interface DecisionRecord {
  /** The id returned to the caller as `decision_id`. */
  readonly decisionId: string;
  /** The path asked, without a leading slash (`app/authz/allow`; the default decision: `system/main`). */
  readonly path: string;
  /** Absent when the request had no input. */
  readonly input?: unknown;
  /** Absent when the decision was undefined. */
  readonly result?: unknown;
  /** Set when evaluation failed; OPA's error shape. */
  readonly error?: { readonly code: string; readonly message: string };
  /** The client's address, as OPA's `requested_by`. */
  readonly requestedBy: string;
  readonly timestamp: Date;
  /** Timers in nanoseconds, named as OPA names them (`timer_rego_query_eval_ns`, ...). */
  readonly metrics: Readonly<Record<string, number>>;
  /** Revisions of the active bundles when the decision was made. */
  readonly bundles: Readonly<Record<string, { readonly revision: string }>>;
}

/**
 * Receives every decision. Called on the request path: it must only record (push into a
 * buffer), never wait for I/O.
 */
export interface DecisionListener {
  onDecision(record: DecisionRecord): void;
}
