/**
 * Errors that end the extension's init carry a reason. The lifecycle reports them to Lambda's
 * `/init/error` (or `/exit/error`) as `Extension.<reason>`, so the reason is part of the contract
 * with users reading CloudWatch: keep the names stable.
 */
export type ExtensionErrorReason =
  | 'ConfigInvalid'
  | 'BundleActivationFailed'
  | 'ServerStartFailed'
  | 'RegistrationFailed'
  | 'PluginStartFailed'
  | 'UnexpectedError';

/**
 * Base class of every error the extension raises on purpose. Each class names itself in a string
 * (`this.name`, which logs show): the bundled runtime is minified without keeping function names.
 */
export class ExtensionError extends Error {
  public constructor(public readonly reason: ExtensionErrorReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ExtensionError';
  }

  /** The value of `Lambda-Extension-Function-Error-Type`. */
  public get errorType(): string {
    return `Extension.${this.reason}`;
  }
}

/** The configuration file or an environment variable holds a value the extension cannot use. */
export class ConfigError extends ExtensionError {
  public constructor(message: string, options?: { cause?: unknown }) {
    super('ConfigInvalid', message, options);
    this.name = 'ConfigError';
  }
}

/** A bundle could not be read, verified or loaded. */
export class BundleError extends ExtensionError {
  public constructor(public readonly bundle: string, message: string, options?: { cause?: unknown }) {
    super('BundleActivationFailed', `bundle ${bundle}: ${message}`, options);
    this.name = 'BundleError';
  }
}

/** Wraps anything that is not already an ExtensionError, so callers see one family of errors. */
export function asExtensionError(err: unknown, reason: ExtensionErrorReason = 'UnexpectedError'): ExtensionError {
  if (err instanceof ExtensionError) return err;
  return new ExtensionError(reason, errorMessage(err), { cause: err });
}

/**
 * The message of anything thrown: an Error's message (also of an Error from another realm, such as
 * a vm context, which fails `instanceof Error`), or the value as text (opa-wasm throws strings).
 */
export function errorMessage(err: unknown): string {
  const message = (err as { message?: unknown } | null | undefined)?.message;
  return typeof message === 'string' ? message : String(err);
}

/** Anything thrown, as an Error (for loggers and causes). */
export function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(errorMessage(err), { cause: err });
}
