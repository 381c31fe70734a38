import { Aspects, Duration, IAspect, Stage } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct, IConstruct } from 'constructs';
import { DEFAULT_PORT, ENV } from './layer-contract';
import { OpaBundle } from './opa-bundle';
import { OpaExtensionAspect } from './opa-extension-aspect';
import { OpaSecret } from './opa-secret';
import { bindBundles } from './private/bundle-binding';
import { checkEmbeddedBundles } from './private/bundle-checks';
import { ConfigBinding } from './private/config-binding';
import { compatibleRuntimeNames, roundTimeoutOf } from './private/function-checks';
import { FunctionWiring } from './private/function-wiring';
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

  /**
   * Grant each function's role what the extension needs to read the policy sources and secrets
   * (for a bundle in S3, `s3:GetObject` on its key, and `kms:Decrypt` on the bucket's key when it
   * has one). Turn it off when your team manages IAM itself; `grantRead` grants the same to a
   * role you choose.
   *
   * @default true
   */
  readonly grantPermissions?: boolean;
}


/**
 * A Lambda layer holding Open Policy Agent as an external extension: a process beside the function
 * that evaluates Rego policies compiled to WebAssembly and answers OPA's REST API on
 * `http://127.0.0.1:8181`.
 *
 * Attach it with `fn.addLayers(layer)` (a function in any stack of the app), `layer.addToFunction(fn)`,
 * or to every function in a scope with `layer.addToAllFunctions(scope)`. Node.js functions (20 or
 * newer) run the extension on their own `node`; functions of other Amazon Linux 2023 runtimes also
 * get an `OpaNodeRuntimeLayer` with a Node.js binary. Each function gets `OPA_URL`
 * and the variables the layer's config refers to, unless it sets them itself, and its role the
 * grants the policy sources need.
 */
export class OpaExtensionLayer extends lambda.LayerVersion {
  /** The URL function code uses to ask for decisions, e.g. `http://127.0.0.1:8181`. */
  public readonly url: string;

  /** What the bundles and reporting targets grant, applied to functions' roles and by `grantRead`. */
  private readonly grants: Array<NonNullable<ConfigBinding['grant']>>;
  private readonly wiring: FunctionWiring;

  public constructor(scope: Construct, id: string, props: OpaExtensionLayerProps = {}) {
    const where = `${scope.node.path}/${id}`;
    const port = props.port ?? DEFAULT_PORT;
    validateProps(where, props, port);
    const bundles = bindBundles(scope, where, props);
    const bindings: ConfigBinding[] = [...bundles, ...bindReporting(where, props)];
    const config = buildOpaConfig({ ...props, where, port, bindings });
    super(scope, id, {
      code: lambda.Code.fromAsset(assembleLayer({ config, embedded: bundles.filter((b) => b.embeddedFile) })),
      // No `compatibleRuntimes` here: LayerVersion would check them in `fn.addLayers` and refuse
      // newer Node.js runtimes it does not know; the layer's own checks name what works.
      compatibleArchitectures: [lambda.Architecture.X86_64, lambda.Architecture.ARM_64],
      description: props.description ?? 'Open Policy Agent Lambda extension',
      layerVersionName: props.layerVersionName,
    });
    // Lambda only uses CompatibleRuntimes to filter layer listings.
    (this.node.defaultChild as lambda.CfnLayerVersion).compatibleRuntimes = compatibleRuntimeNames();
    this.url = `http://127.0.0.1:${port}`;
    this.grants = bindings.flatMap((b) => (b.grant ? [b.grant] : []));
    this.wiring = new FunctionWiring({
      layer: this,
      url: this.url,
      environment: Object.assign({ [ENV.URL]: this.url }, ...bindings.map((b) => b.environment)),
      grant: (props.grantPermissions ?? true) ? (grantee) => this.grantRead(grantee) : undefined,
      roundTimeout: roundTimeoutOf(config),
    });
    warnUnknownPlugins(this, props);
    checkEmbeddedBundles(this, where, bundles, props);
    // `fn.addLayers(layer)` does not tell the layer: an aspect finds the functions that use it, in
    // every stack of the layer's stage (the app, or a Stage: references cannot cross stages).
    Aspects.of(Stage.of(this) ?? this.node.root).add(new ConfigureFunctionsAspect(this));
  }

  /**
   * Adds this layer to the function and configures it: `OPA_URL` and the variables the layer's
   * config refers to (those the function does not set itself), and the grants. Calling it again,
   * or also calling `fn.addLayers`, changes nothing more. A function whose runtime has no `node`
   * also gets the `OpaNodeRuntimeLayer` of its stack and architecture. Throws when the layer cannot
   * serve the function (an Amazon Linux 2 or unknown runtime, a container image, a sixth layer,
   * another OPA extension layer) or the Node.js package it needs is not installed.
   */
  public addToFunction(fn: lambda.Function): void {
    this.wiring.addTo(fn);
  }

  /** `addToFunction` for each function. */
  public addToFunctions(...fns: lambda.Function[]): void {
    for (const fn of fns) this.addToFunction(fn);
  }

  /**
   * Adds this layer to every Lambda function in the scope (an app, a stage, a stack or any
   * construct) at synth, through an {@link OpaExtensionAspect}. Functions the layer cannot serve
   * are skipped, each with a warning that says why.
   */
  public addToAllFunctions(scope: IConstruct): void {
    Aspects.of(scope).add(new OpaExtensionAspect(this));
  }

  /**
   * Grants the principal what the extension needs to read this layer's policy sources and secrets,
   * as every function's role gets unless `grantPermissions` is false: for a bundle in S3,
   * `s3:GetObject` on its key (and `kms:Decrypt` on the bucket's key, if any). Use it for a role the construct does
   * not see, such as an imported function's. When the sources need no permission (embedded
   * bundles, URLs), the grant is dropped, as `iam.Grant.drop`: nothing is added.
   */
  public grantRead(grantee: iam.IGrantable): iam.Grant {
    let all = iam.Grant.drop(grantee, 'read the policy sources of an OPA extension layer');
    for (const grant of this.grants) {
      const granted = grant(grantee);
      if (granted) all = all.combine(granted);
    }
    return all;
  }

  /** @internal */
  public _configureIfUsedBy(fn: lambda.Function): void {
    this.wiring.configureIfUsed(fn);
  }

  /** @internal */
  public _addIfServed(fn: lambda.Function): string | undefined {
    return this.wiring.addIfServed(fn);
  }
}

class ConfigureFunctionsAspect implements IAspect {
  public constructor(private readonly layer: OpaExtensionLayer) {}

  public visit(node: IConstruct): void {
    if (node instanceof lambda.Function) this.layer._configureIfUsedBy(node);
  }
}
