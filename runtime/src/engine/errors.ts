/**
 * Evaluation failures. A failed decision is not an extension failure (the next request may
 * succeed), so this is not an ExtensionError: the server answers it with OPA's `internal_error`.
 */
export class EvaluationError extends Error {
  /** OPA's error code for a failed evaluation (`types.CodeInternal`). */
  public readonly code = 'internal_error';

  public constructor(
    /** The entrypoint that failed, e.g. `app/conflict/x`. */
    public readonly entrypoint: string,
    /** What the policy reported: an abort message such as `x.rego:4:1: var assignment conflict`, or a trap. */
    public readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`evaluation of ${entrypoint} failed: ${reason}`, options);
    this.name = 'EvaluationError';
  }
}
