import { Aspects, Duration, IAspect, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct, IConstruct } from 'constructs';
import { DEFAULT_PORT, ENV } from './layer-contract';
import { OpaBundle } from './opa-bundle';
import { OpaSecret } from './opa-secret';
import { bindBundles } from './private/bundle-binding';
import { checkEmbeddedBundles } from './private/bundle-checks';
import { ConfigBinding } from './private/config-binding';
import { assembleLayer } from './private/layer-assembly';
import { buildOpaConfig } from './private/opa-config';
import { validateProps, warnUnknownPlugins } from './private/props-validation';
import { bindReporting } from './private/reporting-binding';

/** Where the decision-log or status plugin reports. */
export interface OpaReportingOptions {
  /**
   * Also print each decision-log event or status report as one JSON line on stdout, which Lambda
   * ships to CloudWatch Logs.
   *
   * @default false
   */
  readonly console?: boolean;

  /**
   * Base URL of a service that accepts OPA's uploads: decision logs are POSTed gzip-compressed to
   * `<url>/logs`, status reports to `<url>/status`.
   *
   * @default - no upload
   */
  readonly url?: string;

  /**
   * A bearer token for the service. The value is written into the layer: prefer
   * `bearerTokenSecret`, which keeps the token in Secrets Manager or SSM; at least put a
   * reference to an environment variable of the function here (`'${LOG_TOKEN}'`) rather than the
   * token itself. Not together with `bearerTokenSecret`.
   *
   * @default - no Authorization header
   */
  readonly bearerToken?: string;

  /**
   * A bearer token for the service kept in Secrets Manager or an SSM `SecureString` parameter,
   * read by the extension during init with the function's role (which is granted reading that
   * secret only), and read again once when the service answers 401 or 403 (rotation). Not
   * together with `bearerToken`.
   *
   * @default - no token from a secret
   */
  readonly bearerTokenSecret?: OpaSecret;
}

/** Properties of an `OpaExtensionLayer`. */
export interface OpaExtensionLayerProps {
  /**
   * A policy bundle embedded in the layer.
   *
   * @default - no embedded bundle
   */
  readonly bundle?: OpaBundle;

  /**
   * More embedded bundles, for policies kept apart (their manifest roots must not overlap).
   *
   * @default - none
   */
  readonly bundles?: OpaBundle[];

  /**
   * The data paths functions will ask for (`'app/authz/allow'`; a leading `/` or `/v1/data/` is
   * allowed). Synth fails when an embedded bundle's entrypoint answers none of them (an entrypoint
   * answers its own path and the paths below it), and names the entrypoints there are. When the
   * layer also downloads bundles (`fromBucket`, `fromUrl`, `opaConfig`), a path no embedded bundle
   * answers is a warning instead, since those bundles are not known at synth.
   *
   * @default - no paths are checked
   */
  readonly queries?: string[];

  /**
   * Decision logs: one event per decision, with OPA's fields, flushed on the scheduler's rounds
   * and before the environment shuts down.
   *
   * @default - no decision logs
   */
  readonly decisionLogs?: OpaReportingOptions;

  /**
   * Status reports (bundles, plugin states, metrics) on each round where something changed and at
   * shutdown.
   *
   * @default - no status reports
   */
  readonly status?: OpaReportingOptions;

  /**
   * More OPA configuration, deep-merged over what the other props generate (objects merge, other
   * values replace): `keys` and `bundles.<name>.signing`, `decision_logs.reporting`, `services`
   * of your own... in OPA's format (https://www.openpolicyagent.org/docs/configuration). It is
   * written into the layer: refer to secrets and deploy-time values as `${NAME}` and set `NAME` in
   * the function's environment.
   *
   * @default - none
   */
  readonly opaConfig?: { [key: string]: any };

  /**
   * Port of OPA's REST API on 127.0.0.1 inside the execution environment.
   *
   * @default 8181
   */
  readonly port?: number;

  /**
   * The decision `POST /` answers, as OPA's `default_decision`.
   *
   * @default '/system/main'
   */
  readonly defaultDecision?: string;

  /**
   * Labels that identify this OPA in decision logs and status reports.
   *
   * @default - none
   */
  readonly labels?: { [key: string]: string };

  /**
   * Plugins are triggered on an INVOKE only once this much time has passed since the last
   * round (`minimum_trigger_threshold`). The first INVOKE always triggers.
   *
   * @default Duration.seconds(30)
   */
  readonly minimumTriggerThreshold?: Duration;

  /**
   * One time limit shared by a whole round of plugin triggers (`trigger_timeout`).
   *
   * @default Duration.seconds(7)
   */
  readonly triggerTimeout?: Duration;

  /**
   * Order in which plugins start and are first triggered during init (`plugin_start_priority`).
   *
   * @default ['discovery', 'bundle', 'decision_logs', 'status']
   */
  readonly pluginStartPriority?: string[];

  /**
   * Order in which plugins are stopped at SHUTDOWN (`plugin_stop_priority`); decision_logs and
   * status are flushed before they stop.
   *
   * @default ['decision_logs', 'status', 'bundle', 'discovery']
   */
  readonly pluginStopPriority?: string[];

  /**
   * Name of the layer version.
   *
   * @default - a name generated by CloudFormation
   */
  readonly layerVersionName?: string;

  /**
   * Description of the layer version.
   *
   * @default 'Open Policy Agent Lambda extension'
   */
  readonly description?: string;
}


/**
 * A Lambda layer holding Open Policy Agent as an external extension: a process beside the function
 * that evaluates Rego policies compiled to WebAssembly and answers OPA's REST API on
 * `http://127.0.0.1:8181`.
 *
 * Attach it with `fn.addLayers(layer)` or `layer.addToFunction(fn)`; either way the function gets
 * `OPA_URL` in its environment (unless it already sets it).
 */
export class OpaExtensionLayer extends lambda.LayerVersion {
  /** The URL function code uses to ask for decisions, e.g. `http://127.0.0.1:8181`. */
  public readonly url: string;

  /** The functions this layer has configured: our own record, so each is configured once. */
  private readonly configured = new Set<lambda.Function>();
  /** What every function with the layer gets: `OPA_URL` and the variables the config refers to as `${NAME}`. */
  private readonly functionEnvironment: Record<string, string>;
  /** What every function's role is granted, for the extension to fetch bundles. */
  private readonly functionGrants: Array<(grantee: iam.IGrantable) => void>;

  public constructor(scope: Construct, id: string, props: OpaExtensionLayerProps = {}) {
    const where = `${scope.node.path}/${id}`;
    const port = props.port ?? DEFAULT_PORT;
    validateProps(where, props, port);
    const bundles = bindBundles(scope, where, props);
    const bindings: ConfigBinding[] = [...bundles, ...bindReporting(where, props)];
    const config = buildOpaConfig({ ...props, where, port, bindings });
    super(scope, id, {
      code: lambda.Code.fromAsset(assembleLayer({ config, embedded: bundles.filter((b) => b.embeddedFile) })),
      compatibleRuntimes: [lambda.Runtime.NODEJS_20_X, lambda.Runtime.NODEJS_22_X],
      compatibleArchitectures: [lambda.Architecture.X86_64, lambda.Architecture.ARM_64],
      description: props.description ?? 'Open Policy Agent Lambda extension',
      layerVersionName: props.layerVersionName,
    });
    this.url = `http://127.0.0.1:${port}`;
    this.functionEnvironment = Object.assign({ [ENV.URL]: this.url }, ...bindings.map((b) => b.environment));
    this.functionGrants = bindings.flatMap((b) => (b.grant ? [b.grant] : []));
    warnUnknownPlugins(this, props);
    checkEmbeddedBundles(this, where, bundles, props);
    // `fn.addLayers(layer)` does not tell the layer; an aspect finds the functions that use it.
    Aspects.of(Stack.of(this)).add(new ConfigureFunctionsAspect(this));
  }

  /**
   * Adds this layer to the function and sets `OPA_URL` in its environment (unless the function
   * already sets it). Calling it again, or also calling `fn.addLayers`, changes nothing more.
   */
  public addToFunction(fn: lambda.Function): void {
    if (!this.usedBy(fn)) fn.addLayers(this);
    this.configureFunction(fn);
  }

  /** @internal */
  public _configureIfUsedBy(fn: lambda.Function): void {
    if (this.usedBy(fn)) this.configureFunction(fn);
  }

  private configureFunction(fn: lambda.Function): void {
    if (this.configured.has(fn)) return;
    this.configured.add(fn);
    this.configureEnvironment(fn);
    this.configureGrants(fn);
  }

  /** Adds the variables the function does not set itself: a value the user set is never overridden. */
  private configureEnvironment(fn: lambda.Function): void {
    const existing = environmentOf(fn);
    for (const [name, value] of Object.entries(this.functionEnvironment)) {
      if (!(name in existing)) fn.addEnvironment(name, value);
    }
  }

  private configureGrants(fn: lambda.Function): void {
    if (this.functionGrants.length === 0) return;
    for (const grant of this.functionGrants) grant(fn);
  }

  /** Whether the function's rendered layers include this one (public API only, no private fields). */
  private usedBy(fn: lambda.Function): boolean {
    const cfn = fn.node.defaultChild as lambda.CfnFunction;
    const stack = Stack.of(fn);
    const layers = stack.resolve(cfn.layers) as unknown[] | undefined;
    if (!layers) return false;
    const mine = JSON.stringify(stack.resolve(this.layerVersionArn));
    return layers.some((l) => JSON.stringify(l) === mine);
  }
}

/** The function's environment as it will be rendered, read through the public `CfnFunction`. */
function environmentOf(fn: lambda.Function): Record<string, unknown> {
  const cfn = fn.node.defaultChild as lambda.CfnFunction;
  const env = Stack.of(fn).resolve(cfn.environment) as { variables?: Record<string, unknown>; Variables?: Record<string, unknown> } | undefined;
  return env?.variables ?? env?.Variables ?? {};
}

class ConfigureFunctionsAspect implements IAspect {
  public constructor(private readonly layer: OpaExtensionLayer) {}

  public visit(node: IConstruct): void {
    if (node instanceof lambda.Function) this.layer._configureIfUsedBy(node);
  }
}
