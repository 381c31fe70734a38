import { Annotations, IAspect } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { IConstruct } from 'constructs';
import type { OpaExtensionLayer } from './opa-extension-layer';

/**
 * Adds an OPA extension layer to every Lambda function in the scope it is applied to, as
 * `OpaExtensionLayer.addToFunction` would, at synth: `Aspects.of(app).add(new OpaExtensionAspect(opa))`,
 * which `opa.addToAllFunctions(app)` does for you.
 *
 * A function the layer cannot serve (a runtime other than Node.js 20 or newer, a container image,
 * one that already has Lambda's five layers or another OPA layer) is left as it is, with a warning
 * that names it and says why. Functions CDK creates for its own custom resources are in the scope
 * too: apply the aspect to the constructs that hold your functions to leave those out.
 */
export class OpaExtensionAspect implements IAspect {
  /**
   * @param layer the layer to add to each function
   */
  public constructor(private readonly layer: OpaExtensionLayer) {}

  public visit(node: IConstruct): void {
    if (!(node instanceof lambda.Function)) return;
    const problem = this.layer._addIfServed(node);
    if (problem) {
      Annotations.of(node).addWarningV2('opa-lambda-extension:functionSkipped', `${node.node.path}: OpaExtensionAspect skipped this function: ${problem}`);
    }
  }
}
