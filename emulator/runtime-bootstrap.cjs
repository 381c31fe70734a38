'use strict';
/**
 * The emulator's stand-in for Lambda's Node.js runtime: a separate process that speaks the
 * Runtime API (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html), as the managed
 * runtime does.
 *
 *   node runtime-bootstrap.cjs <absolute handler file> <export name>
 *
 * It loads the handler module (its top-level code is the function's init and may already call
 * the extensions), reports a failure to load on /runtime/init/error, then loops on
 * /runtime/invocation/next, calling `await handler(event, context)` and posting the result to
 * /response or the thrown error to /error.
 *
 * Plain CommonJS on purpose: the emulator itself runs from TypeScript under ts-node/ts-jest, but a
 * child process cannot, and this file must not depend on a build step.
 */
const http = require('node:http');

const [handlerFile, exportName = 'handler'] = process.argv.slice(2);
const [apiHost, apiPort] = (process.env.AWS_LAMBDA_RUNTIME_API || '').split(':');
const PREFIX = '/2018-06-01/runtime';
// Keep-alive would let one stalled socket hold up the next long poll; Lambda's runtimes open plain requests.
const agent = new http.Agent({ keepAlive: false });

function request(method, path, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: apiHost, port: Number(apiPort), method, path: PREFIX + path, agent,
      headers: { 'Content-Type': 'application/json', ...(headers || {}) },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function errorBody(err) {
  const e = err instanceof Error ? err : new Error(String(err));
  return {
    errorType: e.name || 'Error',
    errorMessage: e.message,
    stackTrace: typeof e.stack === 'string' ? e.stack.split('\n').slice(1).map((l) => l.trim()) : [],
  };
}

async function main() {
  let handler;
  try {
    const mod = require(handlerFile);
    handler = mod[exportName];
    if (typeof handler !== 'function') {
      const err = new Error(`${handlerFile} does not export a function named ${exportName}`);
      err.name = 'Runtime.HandlerNotFound';
      throw err;
    }
  } catch (err) {
    const body = errorBody(err);
    if (!String(body.errorType).startsWith('Runtime.')) body.errorType = 'Runtime.ImportModuleError';
    await request('POST', '/init/error', JSON.stringify(body), { 'Lambda-Runtime-Function-Error-Type': body.errorType });
    process.exit(1);
  }

  for (;;) {
    const next = await request('GET', '/invocation/next');
    const requestId = next.headers['lambda-runtime-aws-request-id'];
    const deadlineMs = Number(next.headers['lambda-runtime-deadline-ms']);
    const traceId = next.headers['lambda-runtime-trace-id'];
    if (traceId) process.env._X_AMZN_TRACE_ID = traceId;
    else delete process.env._X_AMZN_TRACE_ID;
    const context = {
      awsRequestId: requestId,
      invokedFunctionArn: next.headers['lambda-runtime-invoked-function-arn'],
      functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
      functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
      memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()),
    };
    let outcome;
    try {
      const result = await handler(JSON.parse(next.body), context);
      outcome = { path: `/invocation/${encodeURIComponent(requestId)}/response`, body: JSON.stringify(result === undefined ? null : result) };
    } catch (err) {
      const body = errorBody(err);
      outcome = {
        path: `/invocation/${encodeURIComponent(requestId)}/error`,
        body: JSON.stringify(body),
        headers: { 'Lambda-Runtime-Function-Error-Type': body.errorType },
      };
    }
    await request('POST', outcome.path, outcome.body, outcome.headers);
  }
}

main().catch((err) => {
  process.stderr.write(`runtime bootstrap failed: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
