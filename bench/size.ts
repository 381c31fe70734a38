/**
 * Size: the layer as `cdk deploy` would upload it (synthesized with the RBAC bundle embedded),
 * zipped with `zip -9` and unzipped, against the pinned OPA binary stripped and zipped the same
 * way. Also the bundled runtime by dependency, from esbuild's metafile with the options of the
 * `bundle:runtime` task, and the packages `main.js` loads on first use, each in its own file.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { lazyPackageFiles, runtimeBuildOptions } from '../runtime/bundle';
import { BenchBundles, SCRATCH, synthesize } from './lib/fixtures';
import { FigureResult, KB, Row, round } from './lib/results';
import { ratio } from './lib/stats';
import { OPA_BIN } from '../test/support/opa';

const ROOT = path.resolve(__dirname, '..');
const ZIP_MISSING = 'not measured: the `zip` command is not installed (Debian/Ubuntu: apt-get install -y zip)';

export function zipAvailable(): boolean {
  return spawnSync('zip', ['-v'], { stdio: 'ignore' }).status === 0;
}

/** Bytes of `dir` zipped with `zip -r -9 -X` (what a layer upload holds), or of one file. */
export function zippedBytes(target: string, name: string): number {
  const out = path.join(SCRATCH, `${name}.zip`);
  fs.rmSync(out, { force: true });
  if (fs.statSync(target).isDirectory()) {
    execFileSync('zip', ['-q', '-r', '-9', '-X', out, '.'], { cwd: target });
  } else {
    execFileSync('zip', ['-q', '-9', '-X', '-j', out, target]);
  }
  return fs.statSync(out).size;
}

/** Sum of the sizes of the regular files under `dir`. */
export function treeBytes(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) total += treeBytes(p);
    else if (entry.isFile()) total += fs.statSync(p).size;
  }
  return total;
}

/** Bytes of the minified runtime bundle (`main.js`) by npm package (or `runtime/src`), and of each package loaded on first use. */
export async function bundleBreakdown(): Promise<{ total: number; byPackage: Record<string, number> }> {
  const result = await esbuild.build({
    ...runtimeBuildOptions('bench'),
    outfile: path.join(SCRATCH, 'index.js'),
    write: false,
    metafile: true,
  });
  const output = Object.values(result.metafile.outputs)[0];
  const byPackage: Record<string, number> = {};
  for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
    const key = m ? m[1] : input.startsWith('runtime/') ? 'runtime/src (the extension)' : input;
    byPackage[key] = (byPackage[key] ?? 0) + bytesInOutput;
  }
  for (const [file, text] of Object.entries(await lazyPackageFiles())) {
    byPackage[`lazy/${file} (loaded on first use)`] = Buffer.byteLength(text);
  }
  const sorted = Object.fromEntries(Object.entries(byPackage).sort((a, b) => b[1] - a[1]));
  return { total: output.bytes, byPackage: sorted };
}

export async function size(bundles: BenchBundles): Promise<FigureResult> {
  const breakdown = await bundleBreakdown();
  const layer = await synthesize(bundles.wasmFile);
  const rows: Row[] = [];
  try {
    const unzipped = treeBytes(layer.layerDir);
    const template = path.join(ROOT, 'lib', 'runtime');
    if (!zipAvailable()) {
      rows.push({ figure: 'size', metric: 'layer zip', value: null, unit: 'KB', target: '< 300 KB', meetsTarget: null, note: ZIP_MISSING });
      rows.push({ figure: 'size', metric: 'layer unzipped', value: round(unzipped / KB, 1), unit: 'KB' });
    } else {
      const stripped = path.join(SCRATCH, 'opa');
      execFileSync('strip', ['-o', stripped, OPA_BIN]);
      const opaZip = zippedBytes(stripped, 'opa');
      const layerZip = zippedBytes(layer.layerDir, 'layer');
      const templateZip = zippedBytes(template, 'runtime');
      const opaRef = { name: 'OPA binary, stripped and zipped', value: round(opaZip / KB, 1) };
      rows.push({
        figure: 'size',
        metric: 'layer zip (RBAC bundle embedded)',
        value: round(layerZip / KB, 1),
        unit: 'KB',
        reference: opaRef,
        ratio: round(ratio(layerZip, opaZip), 4),
        target: '< 300 KB',
        meetsTarget: layerZip < 300 * KB,
      });
      rows.push({ figure: 'size', metric: 'layer zip, runtime only (lib/runtime)', value: round(templateZip / KB, 1), unit: 'KB', reference: opaRef, ratio: round(ratio(templateZip, opaZip), 4) });
      rows.push({
        figure: 'size',
        metric: 'layer unzipped',
        value: round(unzipped / KB, 1),
        unit: 'KB',
        reference: { name: 'OPA binary, stripped', value: round(fs.statSync(stripped).size / KB, 1) },
        ratio: round(ratio(unzipped, fs.statSync(stripped).size), 4),
      });
      fs.rmSync(stripped, { force: true });
    }
    for (const [pkg, bytes] of Object.entries(breakdown.byPackage).filter(([, b]) => b >= 512).slice(0, 8)) {
      rows.push({ figure: 'size', metric: `runtime bundle: ${pkg}`, value: round(bytes / KB, 1), unit: 'KB', note: 'minified, as esbuild writes it' });
    }
    return { rows, details: { unzippedBytes: unzipped, bundle: breakdown } };
  } finally {
    layer.dispose();
  }
}
