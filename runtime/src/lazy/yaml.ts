/**
 * `yaml`, loaded on first use (see lazy-module.ts): a YAML config file, a bundle's `.yaml`
 * data files, the `yaml.*` builtins of a policy, a request body in YAML. What the runtime and
 * opa-wasm call of it.
 */
import type * as YAML from 'yaml';
import { lazyModule } from './lazy-module';

const load = lazyModule<typeof YAML>('yaml');

export const parse = ((...args: unknown[]) => (load().parse as (...a: unknown[]) => unknown)(...args)) as typeof YAML.parse;
export const stringify = ((...args: unknown[]) => (load().stringify as (...a: unknown[]) => unknown)(...args)) as typeof YAML.stringify;
export const parseAllDocuments = ((...args: unknown[]) =>
  (load().parseAllDocuments as (...a: unknown[]) => unknown)(...args)) as typeof YAML.parseAllDocuments;
