/**
 * `yaml` version 1, loaded on first use (see lazy-module.ts): a YAML config file and the `yaml.*`
 * builtins of a policy (opa-wasm's, written for this version). What the runtime and opa-wasm call
 * of it. Request bodies and bundle data files are read by version 2 (yaml2.ts).
 */
import type * as YAML from 'yaml';
import { lazyModule } from './lazy-module';

const load = lazyModule<typeof YAML>('yaml');

export const parse = ((...args: unknown[]) => (load().parse as (...a: unknown[]) => unknown)(...args)) as typeof YAML.parse;
export const stringify = ((...args: unknown[]) => (load().stringify as (...a: unknown[]) => unknown)(...args)) as typeof YAML.stringify;
