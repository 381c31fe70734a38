/**
 * `yaml` version 1, loaded on first use (see lazy-module.ts): the `yaml.*` builtins of a policy
 * (opa-wasm's, written for this version), what opa-wasm calls of it. Everything the runtime reads
 * in YAML (config file, request bodies, bundle data files) is read by version 2 (yaml2.ts).
 */
import type * as YAML from 'yaml';
import { lazyModule } from './lazy-module';

const load = lazyModule<typeof YAML>('yaml');

export const parse = ((...args: unknown[]) => (load().parse as (...a: unknown[]) => unknown)(...args)) as typeof YAML.parse;
export const stringify = ((...args: unknown[]) => (load().stringify as (...a: unknown[]) => unknown)(...args)) as typeof YAML.stringify;
