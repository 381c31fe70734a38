import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * What the emulator needs to run one function of a synthesized CDK app, read from `cdk.out`
 * (the cloud assembly) the way Lambda would receive it: the function's code folder, its layers'
 * folders, handler, environment and timeout. Asset folders are `asset.<hash>` beside the
 * templates, where `<hash>.zip` is the S3 key in the template.
 */
export interface SynthesizedFunction {
  readonly logicalId: string;
  /** Absent for inline code (`Code.fromInline`), which has no asset folder. */
  readonly codeDir?: string;
  /** `file.export`, as in the template's `Handler`. */
  readonly handler: string;
  readonly layerDirs: string[];
  /** Literal environment variables (values that are CloudFormation expressions are left out). */
  readonly environment: Record<string, string>;
  readonly timeoutMs: number;
}

interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, any>;
}

export function readSynthesizedFunction(assemblyDir: string, stackName: string, logicalIdPrefix?: string): SynthesizedFunction {
  const templateFile = path.join(assemblyDir, `${stackName}.template.json`);
  const resources: Record<string, CfnResource> = JSON.parse(fs.readFileSync(templateFile, 'utf8')).Resources ?? {};
  const functions = Object.entries(resources)
    .filter(([id, r]) => r.Type === 'AWS::Lambda::Function' && (!logicalIdPrefix || id.startsWith(logicalIdPrefix)));
  if (functions.length !== 1) {
    throw new Error(`expected one AWS::Lambda::Function${logicalIdPrefix ? ` with id ${logicalIdPrefix}*` : ''} in ${templateFile}, found ${functions.length}`);
  }
  const [logicalId, fn] = functions[0];
  const props = fn.Properties ?? {};
  const layerDirs = ((props.Layers ?? []) as unknown[]).map((layer) => {
    const ref = (layer as { Ref?: string }).Ref;
    const resource = ref ? resources[ref] : undefined;
    if (!resource || resource.Type !== 'AWS::Lambda::LayerVersion') {
      throw new Error(`layer ${JSON.stringify(layer)} of ${logicalId} is not a layer version of this stack`);
    }
    return assetDir(assemblyDir, resource.Properties?.Content?.S3Key);
  });
  const variables: Record<string, unknown> = props.Environment?.Variables ?? {};
  return {
    logicalId,
    codeDir: props.Code?.ZipFile !== undefined ? undefined : assetDir(assemblyDir, props.Code?.S3Key),
    handler: props.Handler,
    layerDirs,
    environment: Object.fromEntries(Object.entries(variables).filter((e): e is [string, string] => typeof e[1] === 'string')),
    timeoutMs: (props.Timeout ?? 3) * 1000,
  };
}

function assetDir(assemblyDir: string, s3Key: unknown): string {
  if (typeof s3Key !== 'string' || !s3Key.endsWith('.zip')) {
    throw new Error(`expected an S3 key "<hash>.zip" of a staged asset, got ${JSON.stringify(s3Key)}`);
  }
  const dir = path.join(assemblyDir, `asset.${s3Key.slice(0, -'.zip'.length)}`);
  if (!fs.existsSync(dir)) throw new Error(`asset folder ${dir} is missing from the cloud assembly`);
  return dir;
}
