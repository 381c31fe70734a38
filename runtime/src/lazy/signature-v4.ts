/**
 * `@smithy/signature-v4`, loaded on first use (see lazy-module.ts): only a layer whose services
 * sign their requests (`s3_signing` credentials) needs it, and it is the largest package of the
 * runtime that an embedded-bundle start does not run.
 */
import type * as SigV4 from '@smithy/signature-v4';
import { lazyModule } from './lazy-module';

const load = lazyModule<typeof SigV4>('signature-v4');

/** The package's class, constructed from the compiled module (`new` of a function that returns an object yields that object). */
export const SignatureV4 = function lazySignatureV4(...args: ConstructorParameters<typeof SigV4.SignatureV4>) {
  return new (load().SignatureV4)(...args);
} as unknown as typeof SigV4.SignatureV4;
