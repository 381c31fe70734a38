import { Annotations, Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import type { BoundBundle } from './bundle-binding';
import { runBundleTool } from './bundle-tool';
import type { CheckSuccess } from './bundle-tool-protocol';
import type { OpaExtensionLayerProps } from '../opa-extension-layer';

/**
 * The synth-time check of what the layer embeds: every embedded bundle is read and activated by the
 * bundle tool with the extension's own reader and engine, as init will (so a bundle that would
 * fail init fails synth), and every path of `queries` must be answered by an entrypoint of them.
 */
export function checkEmbeddedBundles(
  layer: IConstruct, where: string, bundles: readonly BoundBundle[], props: Pick<OpaExtensionLayerProps, 'queries' | 'opaConfig'>,
): void {
  const queries = normalizeQueries(where, props.queries);
  const embedded = bundles.filter((b) => b.embeddedFile !== undefined);
  let checked: CheckSuccess = { ok: true, bundles: [], unanswered: queries };
  if (embedded.length > 0) {
    const result = runBundleTool({ command: 'check', bundles: embedded.map((b) => ({ name: b.name, file: b.embeddedFile! })), queries });
    if (!result.ok) {
      const named = result.bundles.map((name) => describeBundle(bundles, name)).join(' and ');
      throw new Error(`${where}: ${named}: ${result.message}`);
    }
    checked = result;
  }
  if (checked.unanswered.length === 0) return;

  const entrypoints = checked.bundles.flatMap((b) => b.entrypoints).sort();
  const problem = `queries: ${checked.unanswered.map((q) => `'${q}'`).join(', ')} ${checked.unanswered.length === 1 ? 'is' : 'are'} answered by no `
    + 'entrypoint of the embedded bundles (an entrypoint answers its own path and the paths below it); '
    + (entrypoints.length > 0 ? `the entrypoints are ${entrypoints.map((e) => `'${e}'`).join(', ')}` : 'no bundle is embedded');
  const remote = remoteBundles(bundles, props.opaConfig);
  if (remote.length === 0) throw new Error(`${where}: ${problem}`);
  Annotations.of(layer).addWarningV2('opa-lambda-extension:queriesNotChecked',
    `${problem}. They may be answered by ${remote.join(', ')}, downloaded at run time, which synth cannot check`);
}

/**
 * The paths as the extension's REST API takes them: `app/authz/allow`, `/app/authz/allow` and
 * `/v1/data/app/authz/allow` are one path. Deploy-time values are not checked.
 */
function normalizeQueries(where: string, queries: readonly string[] | undefined): string[] {
  if (queries === undefined) return [];
  if (!Array.isArray(queries)) throw new Error(`${where}: queries must be a list of data paths, got ${JSON.stringify(queries)}`);
  const paths: string[] = [];
  for (const query of queries) {
    if (Token.isUnresolved(query)) continue;
    if (typeof query !== 'string') throw new Error(`${where}: queries must hold data paths (strings), got ${JSON.stringify(query)}`);
    const path = query.trim().replace(/^\/+/, '').replace(/^v1\/data(\/|$)/, '').replace(/\/+$/, '');
    if (path === '' || path.split('/').some((s) => s === '')) {
      throw new Error(`${where}: queries: ${JSON.stringify(query)} is not a data path such as 'app/authz/allow'`);
    }
    paths.push(path);
  }
  return paths;
}

function describeBundle(bundles: readonly BoundBundle[], name: string): string {
  const bound = bundles.find((b) => b.name === name);
  return bound ? `${bound.prop} (bundle "${name}")` : `bundle "${name}"`;
}

/** Bundles downloaded at run time: remote sources, and `opaConfig.bundles` of their own. */
function remoteBundles(bundles: readonly BoundBundle[], opaConfig: OpaExtensionLayerProps['opaConfig']): string[] {
  const remote = bundles.filter((b) => b.embeddedFile === undefined).map((b) => `${b.prop} (bundle "${b.name}")`);
  const configured = opaConfig?.bundles;
  if (configured && typeof configured === 'object') {
    for (const name of Object.keys(configured)) {
      if (!bundles.some((b) => b.name === name)) remote.push(`opaConfig.bundles.${name}`);
    }
  }
  return remote;
}
