import { IResolvable, IResolveContext, Lazy, Tokenization } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';

/**
 * What a function will render, read through its public `CfnFunction` (never a private field of
 * `Function`) and without changing what it renders later.
 *
 * `Function` renders its layers through a cached `Lazy.list`: the first resolution that finds a
 * layer keeps that list for good, so resolving `CfnFunction.layers` before synthesis would drop
 * every layer added afterwards (by the user, by `addToFunction`, by another aspect). The lazy
 * value's producer is therefore run on a throwaway object that inherits from it, so whatever it
 * caches is written on that object. The values come back unresolved: a layer is recognised by its
 * own `layerVersionArn` token, never by a resolved `{ Ref }` that layers in two stacks can share.
 */

/** The ARNs in the function's `Layers`, in order: `layerVersionArn` tokens or literal ARNs. */
export function layerArnsOf(fn: lambda.Function): readonly string[] {
  const layers = (fn.node.defaultChild as lambda.CfnFunction).layers;
  if (layers === undefined) return [];
  const lazy = Tokenization.reverseList(layers);
  // A literal list, set through the escape hatch.
  if (!lazy) return layers;
  const produced = produceOnce(fn, lazy);
  return Array.isArray(produced) ? produced : [];
}

/** The construct's layers each function lists once, by the function's `CfnFunction`. */
const listedOnce = new WeakMap<lambda.CfnFunction, Set<string>>();

/**
 * Makes the function list the layer `arn` once, however often it is added. `fn.addLayers` adds a
 * layer again each time it is called, and Lambda refuses a function that lists a layer twice ("Two
 * different versions of the same layer are not allowed to be referenced in the same function"),
 * so `addToFunction(fn)` followed by `fn.addLayers(layer)` would not deploy. The function's
 * `Layers` become a list that drops the repeats of these ARNs from what the function renders, read
 * as above at every resolution, so a layer added later, by anyone, is still listed. A literal list
 * set through the escape hatch is left as it is.
 */
export function listLayerOnce(fn: lambda.Function, arn: string): void {
  const cfn = fn.node.defaultChild as lambda.CfnFunction;
  const arns = listedOnce.get(cfn);
  if (arns) {
    arns.add(arn);
    return;
  }
  const lazy = cfn.layers === undefined ? undefined : Tokenization.reverseList(cfn.layers);
  if (!lazy) return;
  const once = new Set([arn]);
  listedOnce.set(cfn, once);
  cfn.layers = Lazy.uncachedList({
    produce: (context) => {
      const listed: unknown = (Object.create(lazy) as IResolvable).resolve(context);
      if (!Array.isArray(listed)) return listed as undefined;
      return (listed as string[]).filter((layer, i) => !once.has(layer) || listed.indexOf(layer) === i);
    },
  });
}

/** The names of the variables in the function's environment, as it would render now. */
export function environmentNamesOf(fn: lambda.Function): readonly string[] {
  const env = (fn.node.defaultChild as lambda.CfnFunction).environment;
  const value = Tokenization.isResolvable(env) ? produceOnce(fn, env) : env;
  const variables = value?.variables ?? value?.Variables;
  return variables && typeof variables === 'object' ? Object.keys(variables) : [];
}

/** One level of a lazy value, its cache left untouched (see above). */
function produceOnce(fn: lambda.Function, lazy: IResolvable): any {
  const context: IResolveContext = {
    scope: fn,
    preparing: true,
    documentPath: [],
    resolve: (x: unknown) => x,
    registerPostProcessor: () => undefined,
  };
  return (Object.create(lazy) as IResolvable).resolve(context);
}
