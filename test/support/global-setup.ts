import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

/**
 * Runs once before the suites: makes sure the pinned OPA CLI is installed (the test task does this
 * too; this covers `npx jest` run on its own).
 */
export default function globalSetup(): void {
  const root = path.resolve(__dirname, '..', '..');
  execFileSync('bash', [path.join(root, 'scripts', 'install-opa.sh')], { stdio: 'inherit' });
}
