/**
 * Imported first by the program (`entry.ts`), for its effect alone: the launcher's `--stack-size`
 * is taken back out of V8's flags before `node:net` or any other builtin not yet loaded is, so Node.js
 * takes them from the code cache in its binary instead of compiling them (see `v8-flags.ts`).
 * A module of its own because imports run before the body of the module that imports them.
 */
import { restoreDefaultStackSizeFlag } from './v8-flags';

restoreDefaultStackSizeFlag();
