/**
 * A bundle server token from Secrets Manager, end to end: the layer as the construct writes it
 * (`OpaBundle.fromUrl` with `bearerTokenSecret`), run by the local Lambda emulator with the
 * function's credentials and `AWS_ENDPOINT_URL_SECRETS_MANAGER` pointing at a loopback stand-in
 * that verifies SigV4. The secret rotates: the bundle server refuses the old token, the extension
 * reads the secret again, and the next round's download activates the new revision.
 */
import type { ServerResponse } from 'node:http';
import * as path from 'node:path';
import { Duration } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { LambdaEmulator } from '../../emulator/src';
import { OpaBundle, OpaSecret } from '../../src';
import { buildAuthz } from '../support/authz-bundles';
import { AwsSecretsStandIn } from '../support/aws-secrets-stand-in';
import { freePort, synthesizeLayer, SynthesizedLayer } from '../support/layer';
import { RecordingServer } from '../support/recording-server';

const HANDLER = { file: path.join(__dirname, 'fixtures', 'decision-handler.js') };
const REGION = 'eu-west-1';
const CREDENTIALS = { accessKeyId: 'AKIAE2ESECRETS', secretAccessKey: 'e2e/secrets+key', sessionToken: 'e2e-secrets-session' };
const SECRET_ARN = `arn:aws:secretsmanager:${REGION}:123456789012:secret:opa/bundle-token-AbCdEf`;
const OLD_TOKEN = 'e2e-old-token-7d1f0b';
const NEW_TOKEN = 'e2e-new-token-c92e4a';
/** The construct's minimum_trigger_threshold for this layer. */
const THRESHOLD_S = 1;

let aws: AwsSecretsStandIn;
let bundleServer: RecordingServer;
let layer: SynthesizedLayer;
let emulator: LambdaEmulator | undefined;
let bundles: Record<string, Buffer>;

beforeAll(async () => {
  aws = new AwsSecretsStandIn({ ...CREDENTIALS, region: REGION });
  bundleServer = new RecordingServer();
  await Promise.all([aws.listen(), bundleServer.listen()]);
  const [r1, r2] = await Promise.all([buildAuthz('r1'), buildAuthz('r2')]);
  bundles = { r1, r2 };
  const port = await freePort();
  layer = synthesizeLayer((stack) => ({
    port,
    minimumTriggerThreshold: Duration.seconds(THRESHOLD_S),
    bundle: OpaBundle.fromUrl(bundleServer.url, 'bundles/authz.tar.gz', {
      bearerTokenSecret: OpaSecret.fromSecretsManager(secretsmanager.Secret.fromSecretCompleteArn(stack, 'BundleToken', SECRET_ARN), { jsonField: 'token' }),
    }),
  }));
});

afterAll(async () => {
  await emulator?.close();
  layer?.dispose();
  await aws?.close();
  await bundleServer?.close();
});

function serve(res: ServerResponse, revision: string): void {
  res.writeHead(200, { 'etag': `"${revision}"`, 'content-length': String(bundles[revision].length) }).end(bundles[revision]);
}

async function revisionAsked(emu: LambdaEmulator): Promise<{ result: unknown; provenance: unknown }> {
  const res = await emu.invoke({ path: 'authz/revision?provenance' });
  expect(res.error).toBeUndefined();
  const { status, body } = res.result as { status: number; body: { result: unknown; provenance: { bundles: Record<string, { revision: string }> } } };
  expect(status).toBe(200);
  return { result: body.result, provenance: body.provenance.bundles };
}

describe('GIVEN a layer whose bundle server token is in Secrets Manager', () => {
  test('WHEN the secret rotates and the server refuses the old token THEN the extension reads it again and the next round activates the new revision, never logging a token', async () => {
    // GIVEN: the secret holds the old token, which the bundle server takes; it serves r1.
    aws.secrets.set(SECRET_ARN, JSON.stringify({ username: 'opa', token: OLD_TOKEN }));
    let accepted = OLD_TOKEN;
    let revision = 'r1';
    bundleServer.handler = (req, res) => {
      if (req.headers.authorization !== `Bearer ${accepted}`) return res.writeHead(401, { 'content-type': 'text/plain' }).end('token refused');
      if (req.headers['if-none-match'] === `"${revision}"`) return res.writeHead(304).end();
      return serve(res, revision);
    };
    emulator = new LambdaEmulator({
      layerDir: layer.layerDir,
      handler: HANDLER,
      // What the construct set, plus the endpoint override an AWS SDK would honour too.
      environment: { ...layer.environment, AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.url },
      credentials: CREDENTIALS,
      region: REGION,
    });
    const emu = emulator;
    expect(layer.environment).toMatchObject({ OPA_BUNDLES_AUTHZ_TOKEN_SECRET: SECRET_ARN });

    // WHEN: init, and a first invocation.
    expect(await emu.start()).toMatchObject({ ok: true });
    // THEN: the secret was read once, signed; the download carried its field.
    expect(await revisionAsked(emu)).toEqual({ result: 'r1', provenance: { authz: { revision: 'r1' } } });
    expect(aws.calls()).toEqual([{ target: 'secretsmanager.GetSecretValue', input: { SecretId: SECRET_ARN }, status: 200 }]);

    // WHEN: the secret rotates, the server takes only the new token and serves r2; the next round
    // comes with the first invocation after the threshold.
    aws.secrets.set(SECRET_ARN, JSON.stringify({ username: 'opa', token: NEW_TOKEN }));
    accepted = NEW_TOKEN;
    revision = 'r2';
    await new Promise((resolve) => setTimeout(resolve, THRESHOLD_S * 1000 + 200));
    await revisionAsked(emu);
    // THEN: the invocation after that round sees r2.
    expect(await revisionAsked(emu)).toEqual({ result: 'r2', provenance: { authz: { revision: 'r2' } } });
    expect(aws.calls().map((c) => c.status)).toEqual([200, 200]);
    const refused = bundleServer.requests.filter((r) => r.status === 401);
    expect(refused.map((r) => r.headers.authorization)).toEqual([`Bearer ${OLD_TOKEN}`]);
    expect(bundleServer.requests.at(-1)).toMatchObject({ status: 200, headers: expect.objectContaining({ authorization: `Bearer ${NEW_TOKEN}` }) });
    expect(emu.jsonLines('opa').filter((l) => l.msg === 'bundle activated').map((l) => l.revision)).toEqual(['r1', 'r2']);

    // AND: no token in anything the extension wrote.
    await emu.shutdown();
    const output = emu.output.filter((l) => l.source === 'opa').map((l) => l.line).join('\n');
    expect(output).not.toHaveLength(0);
    expect(output).not.toContain(OLD_TOKEN);
    expect(output).not.toContain(NEW_TOKEN);
  });
});
