/**
 * The extension's lifecycle, after "Lambda execution environment lifecycle" and "Lambda Extensions
 * API" (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html):
 * register, finish init, then long-poll `/event/next` until SHUTDOWN. Lambda counts an extension
 * as initialised at its first `/event/next`, so everything the extension must do before serving
 * (plugins started) happens before that call, and any failure until then goes to `/init/error`.
 */
import { asExtensionError, ExtensionError } from '../errors';
import type { Logger } from '../logger';
import type { ExtensionsApiClient } from './extensions-api-client';
import type { InvokeEvent, RegisterResponse, ShutdownEvent } from './types';

export interface LifecycleHooks {
  /**
   * Work that must be done before `/register` (config, embedded bundles, server listening). It
   * returns the hooks of the rest of the lifecycle, so that they are built from what it made and
   * exist only when it succeeded.
   */
  beforeRegister(): Promise<RegisteredHooks>;
}

/** The hooks that run once the extension is registered. */
export interface RegisteredHooks {
  /** Work between `/register` and the first `/event/next` (starting plugins). */
  afterRegister(): Promise<void>;
  onInvoke(event: InvokeEvent): Promise<void>;
  onShutdown(event: ShutdownEvent): Promise<void>;
}

export interface LifecycleOptions {
  readonly client: ExtensionsApiClient;
  /** The extension's name: the file name of its executable in /opt/extensions. */
  readonly name: string;
  readonly hooks: LifecycleHooks;
  readonly logger: Logger;
  /**
   * Lambda's answer to a `/register` made (and logged) already: the extension's fast start
   * registers before it loads the rest, and the client then carries its identifier. The lifecycle
   * does not register again.
   * @default - the lifecycle registers after `beforeRegister`
   */
  readonly registered?: RegisterResponse;
}

/** Runs the lifecycle to its end and returns the process exit code. */
export async function runLifecycle(options: LifecycleOptions): Promise<number> {
  const { client, name, hooks, logger, registered: registeredEarly } = options;

  // A failure before /register is kept, not thrown: /init/error needs the identifier that only
  // /register gives, and without the report Lambda would show a bare "exited" instead of the reason.
  let initFailure: unknown;
  let registeredHooks: RegisteredHooks | undefined;
  try {
    registeredHooks = await hooks.beforeRegister();
  } catch (err) {
    initFailure = err;
  }

  try {
    if (!registeredEarly) logRegistered(logger, name, await client.register(name));
  } catch (err) {
    // Nothing can be posted without an identifier; the non-zero exit is all Lambda will see.
    if (initFailure !== undefined) logInitFailure(logger, asExtensionError(initFailure));
    logInitFailure(logger, asExtensionError(err, 'RegistrationFailed'));
    return 1;
  }

  if (registeredHooks) {
    try {
      await registeredHooks.afterRegister();
    } catch (err) {
      initFailure = err;
    }
  }

  if (!registeredHooks || initFailure !== undefined) {
    const error = asExtensionError(initFailure);
    logInitFailure(logger, error);
    try {
      await client.initError(error);
    } catch (postErr) {
      logger.error('could not report the init error to Lambda', { error: postErr });
    }
    return 1;
  }

  for (;;) {
    let event;
    try {
      event = await client.nextEvent();
    } catch (err) {
      return exitWithError(client, logger, 'could not get the next event', asExtensionError(err));
    }

    if (event.eventType === 'INVOKE') {
      logger.info('invoke', { requestId: event.requestId });
      try {
        await registeredHooks.onInvoke(event);
      } catch (err) {
        // The function is served by the server, not by this loop: one bad round must not end the
        // extension (the Go plugin logs trigger errors and keeps polling).
        logger.error('invoke handling failed', { requestId: event.requestId, error: err });
      }
      continue;
    }

    logger.info('shutdown', { reason: event.shutdownReason, deadlineMs: event.deadlineMs });
    try {
      await registeredHooks.onShutdown(event);
    } catch (err) {
      return exitWithError(client, logger, 'shutdown failed', asExtensionError(err));
    }
    return 0;
  }
}

/** The log line of a registration, written by whoever registered, when it did. */
export function logRegistered(logger: Logger, name: string, registered: RegisterResponse): void {
  logger.info('extension registered', { name, functionName: registered.functionName, functionVersion: registered.functionVersion });
}

function logInitFailure(logger: Logger, error: ExtensionError): void {
  logger.error('extension init failed', { errorType: error.errorType, error });
}

/** Reports to `/exit/error` as best effort: the process is ending whatever Lambda answers. */
async function exitWithError(client: ExtensionsApiClient, logger: Logger, msg: string, error: ExtensionError): Promise<number> {
  logger.error(msg, { errorType: error.errorType, error });
  try {
    await client.exitError(error);
  } catch (postErr) {
    logger.error('could not report the exit error to Lambda', { error: postErr });
  }
  return 1;
}
