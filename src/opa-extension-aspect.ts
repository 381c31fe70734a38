import { Annotations, IAspect } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { IConstruct } from 'constructs';
import type { OpaExtensionLayer } from './opa-extension-layer';

/**
 * Adds an OPA extension layer to every Lambda function in the scope it is applied to, as
 * `OpaExtensionLayer.addToFunction` would, at synth: `Aspects.of(app).add(new OpaExtensionAspect(opa))`,
 * which `opa.addToAllFunctions(app)` does for you.
 *
 * A function whose runtime has no `node` (Python, Java, .NET, Ruby, OS-only on Amazon Linux 2023)
 * also gets the `OpaNodeRuntimeLayer` of its stack and architecture. A function the layer cannot
 * serve (an Amazon Linux 2 runtime or an unknown one, a container image, one that already has
 * Lambda's five layers or another OPA layer) is left as it is, with a warning that names it and
 * says why. A missing Node.js package is an error: it is the build's, not the function's. Functions CDK creates for its own custom resources are in the scope
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
