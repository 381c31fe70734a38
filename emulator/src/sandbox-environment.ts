import * as path from 'node:path';

export interface SandboxEnvironmentOptions {
  readonly environment: Record<string, string>;
  readonly functionName: string;
  readonly functionVersion: string;
  readonly memorySize: number;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
  readonly handlerFile: string;
  readonly handlerExport: string;
  readonly runtimeApi: string;
}

/**
 * The environment every process in the sandbox gets: the function's variables plus Lambda's
 * reserved ones (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime).
 * Only PATH and HOME come from the parent, so that NODE_OPTIONS, jest's variables and the like
 * never leak into what a test observes.
 */
export function sandboxEnvironment(options: SandboxEnvironmentOptions): Record<string, string> {
  const inherited: Record<string, string> = {};
  for (const name of ['PATH', 'HOME']) {
    const value = process.env[name];
    if (value !== undefined) inherited[name] = value;
  }
  const moduleName = handlerModule(options.handlerFile);
  const logStream = `${new Date().toISOString().slice(0, 10).replace(/-/g, '/')}/[${options.functionVersion}]emulator`;
  const reserved: Record<string, string> = {
    _HANDLER: `${moduleName}.${options.handlerExport}`,
    AWS_EXECUTION_ENV: `AWS_Lambda_nodejs${process.versions.node.split('.')[0]}.x`,
    AWS_REGION: options.region,
    AWS_DEFAULT_REGION: options.region,
    AWS_LAMBDA_FUNCTION_NAME: options.functionName,
    AWS_LAMBDA_FUNCTION_VERSION: options.functionVersion,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: options.memorySize.toString(),
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${options.functionName}`,
    AWS_LAMBDA_LOG_STREAM_NAME: logStream,
    AWS_ACCESS_KEY_ID: options.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: options.credentials.secretAccessKey,
    ...(options.credentials.sessionToken !== undefined ? { AWS_SESSION_TOKEN: options.credentials.sessionToken } : {}),
    AWS_LAMBDA_RUNTIME_API: options.runtimeApi,
    LAMBDA_TASK_ROOT: path.dirname(options.handlerFile),
    LANG: 'en_US.UTF-8',
    TZ: ':UTC',
  };
  // Lambda refuses to let a function override its reserved variables, so they are applied last.
  return { ...inherited, ...options.environment, ...reserved };
}

/**
 * Variables "specific to the runtime process" that extensions do not get (Lambda docs, Extensions
 * API, "Environment variables"); rapid also drops every other name that starts with `_`.
 */
const RUNTIME_ONLY = new Set([
  'AWS_EXECUTION_ENV', 'AWS_LAMBDA_LOG_GROUP_NAME', 'AWS_LAMBDA_LOG_STREAM_NAME', 'AWS_XRAY_CONTEXT_MISSING',
  'AWS_XRAY_DAEMON_ADDRESS', 'LAMBDA_RUNTIME_DIR', 'LAMBDA_TASK_ROOT',
]);

/** The environment of an external extension: the sandbox's, less the runtime's own variables. */
export function extensionEnvironment(sandbox: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(sandbox).filter(([name]) => !RUNTIME_ONLY.has(name) && !name.startsWith('_')));
}

/** The module part of `_HANDLER` for a handler file: its name without the extension (`app.js`, `app.py` → `app`). */
export function handlerModule(handlerFile: string): string {
  return path.basename(handlerFile).replace(/\.(c?js|mjs|py)$/, '');
}
