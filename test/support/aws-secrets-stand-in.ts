/**
 * A loopback stand-in for AWS Secrets Manager (`GetSecretValue`) and SSM Parameter Store
 * (`GetParameter`) over the AWS JSON 1.1 protocol. Every request must carry a SigV4 signature
 * that an independent implementation (aws4) verifies for the operation's service, and the
 * protocol's headers; anything else is refused as AWS would, with a `__type` and a `message`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RecordingServer } from './recording-server';
import { sigv4Problem } from './sigv4-verifier';

export interface StandInCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly region: string;
}

/** The operations served, by `X-Amz-Target`, with the service their signature must be for. */
const OPERATIONS: Record<string, { service: string; answer: (standIn: AwsSecretsStandIn, input: Record<string, unknown>) => [number, unknown] }> = {
  'secretsmanager.GetSecretValue': {
    service: 'secretsmanager',
    answer: (standIn, { SecretId }) => {
      const value = standIn.secrets.get(String(SecretId));
      if (value === undefined) return [400, { __type: 'com.amazonaws.secretsmanager#ResourceNotFoundException', message: 'Secrets Manager can\'t find the specified secret.' }];
      return [200, { ARN: SecretId, Name: SecretId, VersionId: 'v', ...(typeof value === 'string' ? { SecretString: value } : { SecretBinary: value.toString('base64') }) }];
    },
  },
  'AmazonSSM.GetParameter': {
    service: 'ssm',
    answer: (standIn, { Name, WithDecryption }) => {
      const value = standIn.parameters.get(String(Name));
      if (value === undefined) return [400, { __type: 'ParameterNotFound', message: '' }];
      if (WithDecryption !== true) return [400, { __type: 'ValidationException', message: 'this stand-in decrypts only when asked WithDecryption' }];
      return [200, { Parameter: { Name, Type: 'SecureString', Value: value, Version: 1 } }];
    },
  },
};

export class AwsSecretsStandIn {
  /** SecretString (or SecretBinary, as a Buffer) by SecretId. */
  public readonly secrets = new Map<string, string | Buffer>();
  /** Decrypted values by parameter Name. */
  public readonly parameters = new Map<string, string>();
  /** When set, answers every request with this status and AWS error instead. */
  public failure?: { status: number; type: string; message: string };
  private readonly server = new RecordingServer();

  public constructor(private readonly credentials: StandInCredentials) {
    this.server.handler = (req, res, body) => this.handle(req, res, body);
  }

  public listen(): Promise<string> {
    return this.server.listen();
  }

  public get url(): string {
    return this.server.url;
  }

  /** The operations asked so far, with what each was asked and the status answered. */
  public calls(): Array<{ target: string; input: unknown; status?: number }> {
    return this.server.requests.map((r) => ({ target: String(r.headers['x-amz-target']), input: r.json, status: r.status }));
  }

  public close(): Promise<void> {
    return this.server.close();
  }

  private handle(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const reply = (status: number, document: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(document));
    };
    const target = String(req.headers['x-amz-target']);
    const operation = OPERATIONS[target];
    if (req.method !== 'POST' || req.url !== '/' || !operation) {
      return reply(400, { __type: 'UnknownOperationException', message: `${req.method} ${req.url} ${target}` });
    }
    if (req.headers['content-type'] !== 'application/x-amz-json-1.1') {
      return reply(400, { __type: 'SerializationException', message: `content-type ${req.headers['content-type']}` });
    }
    const problem = sigv4Problem(req, body, { ...this.credentials, service: operation.service });
    if (problem) return reply(403, { __type: 'InvalidSignatureException', message: problem });
    if (this.failure) return reply(this.failure.status, { __type: this.failure.type, message: this.failure.message });
    const [status, document] = operation.answer(this, JSON.parse(body.toString('utf8')) as Record<string, unknown>);
    return reply(status, document);
  }
}
