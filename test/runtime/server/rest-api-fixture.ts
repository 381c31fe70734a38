/**
 * One bundle for the REST API tests, built twice from the same sources: for the extension
 * (`opa build -t wasm`) and for OPA's own server (`opa build -b`), with the same name, revision
 * and roots, so both answer the same questions.
 */
import { readBundle } from '../../../runtime/src/engine/bundle-reader';
import { PolicyEngine } from '../../../runtime/src/engine/policy-engine';
import { buildWasmBundle, readPolicy } from '../../support/opa';
import { buildRegoBundle } from '../../support/opa-server';

/** The default decision: defined only when the input names someone. */
export const SYSTEM_REGO = `package system

main := {"hello": input.name} if input.name
`;

/**
 * Echoes its input, to tell "no input" from a null input (an empty body to POST /v0/data); and
 * its data, whose numbers JavaScript cannot hold (ECHO_DATA), and whether the input is one of them.
 */
export const ECHO_REGO = `package app.echo

got := {"input": input}

numbers := data.app.exact.numbers

has := input in data.app.exact.numbers
`;

/** `app/exact/data.json`, written as this text: numbers OPA keeps as written. */
export const ECHO_DATA = '{"numbers": [9007199254740993, 123456789012345678901234567890, 1.0, 1e400, -0, 0.1000000000000000055511151231257827]}';

/** OPA names a bundle loaded from a file by the path it was given; the extension uses the same name. */
export const BUNDLE_NAME = 'authz.tar.gz';
export const REVISION = 'rev-42';

export const ENTRYPOINTS = ['app/rbac/allow', 'app/rbac/reasons', 'app/multi', 'app/conflict/x', 'app/echo/got', 'app/echo/numbers', 'app/echo/has', 'system/main'];

function sources() {
  const data = JSON.parse(readPolicy('rbac-data.json'));
  data.app.multi = { users: ['u1', 'u2'] };
  return {
    modules: {
      'rbac.rego': readPolicy('rbac.rego'),
      'multi.rego': readPolicy('multi.rego'),
      'conflict.rego': readPolicy('conflict.rego'),
      'system.rego': SYSTEM_REGO,
      'echo.rego': ECHO_REGO,
      'app/exact/data.json': ECHO_DATA,
    },
    data,
    revision: REVISION,
    manifest: { roots: ['app', 'system'] },
  };
}

/** An engine with the Wasm build of the bundle active. */
export async function restApiEngine(): Promise<PolicyEngine> {
  const archive = await buildWasmBundle({ ...sources(), entrypoints: ENTRYPOINTS });
  const engine = new PolicyEngine();
  engine.activate(await readBundle(BUNDLE_NAME, archive));
  return engine;
}

/** The Rego build of the same bundle, for `opa run --server`. */
export function restApiRegoBundle(): Promise<Buffer> {
  return buildRegoBundle(sources());
}
