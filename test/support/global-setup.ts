import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

/**
 * Runs once before the suites: makes sure the pinned OPA CLI, the Node.js packages of the Node.js
 * layer and its libatomic are installed (the test task does this too; this covers `npx jest` run on
 * its own).
 */
export default function globalSetup(): void {
  const root = path.resolve(__dirname, '..', '..');
  for (const script of ['install-opa.sh', 'install-node-packages.sh', 'fetch-libatomic.sh']) {
    execFileSync('bash', [path.join(root, 'scripts', script)], { stdio: 'inherit' });
  }
}
