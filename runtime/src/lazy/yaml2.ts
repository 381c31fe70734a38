/**
 * `yaml` version 2 (the `yaml2` alias), loaded on first use (see lazy-module.ts): YAML read as OPA
 * reads it (`runtime/src/yaml-json.ts`), for a request body or a bundle data file in YAML.
 */
import type * as YAML from 'yaml2';
import { lazyModule } from './lazy-module';

const load = lazyModule<typeof YAML>('yaml2');

export const parseAllDocuments = ((...args: unknown[]) =>
  (load().parseAllDocuments as (...a: unknown[]) => unknown)(...args)) as typeof YAML.parseAllDocuments;
export const visit = ((...args: unknown[]) => (load().visit as (...a: unknown[]) => unknown)(...args)) as unknown as typeof YAML.visit;
export const isAlias = ((node: unknown) => load().isAlias(node)) as typeof YAML.isAlias;
export const isMap = ((node: unknown) => load().isMap(node)) as typeof YAML.isMap;
export const isSeq = ((node: unknown) => load().isSeq(node)) as typeof YAML.isSeq;
