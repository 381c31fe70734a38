/** `jose`, compiled on first use (see lazy-module.ts): only bundles with a signature need it. */
import type * as Jose from 'jose';
import { lazyModule } from './lazy-module';

/** The `jose` package as CommonJS text, set by `runtime/bundle.ts`. */
declare const OPA_LAZY_JOSE: string;

const load = lazyModule<typeof Jose>('jose', () => OPA_LAZY_JOSE);

export const compactVerify = ((...args: unknown[]) => (load().compactVerify as (...a: unknown[]) => unknown)(...args)) as typeof Jose.compactVerify;
export const decodeProtectedHeader = ((...args: unknown[]) =>
  (load().decodeProtectedHeader as (...a: unknown[]) => unknown)(...args)) as typeof Jose.decodeProtectedHeader;
