/** `jose`, loaded on first use (see lazy-module.ts): only bundles with a signature need it. */
import type * as Jose from 'jose';
import { lazyModule } from './lazy-module';

const load = lazyModule<typeof Jose>('jose');

export const compactVerify = ((...args: unknown[]) => (load().compactVerify as (...a: unknown[]) => unknown)(...args)) as typeof Jose.compactVerify;
export const decodeProtectedHeader = ((...args: unknown[]) =>
  (load().decodeProtectedHeader as (...a: unknown[]) => unknown)(...args)) as typeof Jose.decodeProtectedHeader;
