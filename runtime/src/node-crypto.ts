/**
 * `node:crypto` on first use: it costs milliseconds to load (about 4 ms on Node.js 20), and nothing
 * on the way to the first `/event/next` of a layer whose bundles are embedded needs it. Every
 * module of the runtime reaches it through this function, so that no static import loads it early.
 */
let loaded: typeof import('node:crypto') | undefined;

export function nodeCrypto(): typeof import('node:crypto') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (loaded ??= require('node:crypto') as typeof import('node:crypto'));
}
