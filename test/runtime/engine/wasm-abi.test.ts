import { readBundle } from '../../../runtime/src/engine/bundle-reader';
import { EvaluationError } from '../../../runtime/src/engine/errors';
import { PolicyEngine } from '../../../runtime/src/engine/policy-engine';
import { packBundle } from '../../support/bundle-archive';
import { ABI11_ENTRYPOINTS, TRAP_ENTRYPOINTS, abi11Module, trapModule } from '../../support/wat';

/** Hand-written modules (test/support/wat.ts) cover what `opa build` never emits. */
describe('PolicyEngine on hand-written Wasm modules', () => {
  let trap: Uint8Array;
  let abi11: Uint8Array;

  beforeAll(async () => {
    [trap, abi11] = await Promise.all([trapModule(), abi11Module()]);
  });

  describe('GIVEN a module whose opa_eval traps', () => {
    let engine: PolicyEngine;

    beforeEach(async () => {
      engine = new PolicyEngine();
      engine.activate(await readBundle('trap', packBundle({ '/policy.wasm': Buffer.from(trap), '/data.json': '{"seen": "data"}' })));
    });

    test('WHEN it is evaluated THEN an EvaluationError says the policy trapped', () => {
      const evaluate = () => engine.evaluate(TRAP_ENTRYPOINTS.boom, { any: 1 });

      expect(evaluate).toThrow(EvaluationError);
      expect(evaluate).toThrow('evaluation of trap/boom failed: policy trapped: unreachable');
    });

    test('WHEN it has trapped THEN the next evaluation of the same instance works', () => {
      expect(() => engine.evaluate(TRAP_ENTRYPOINTS.boom, {})).toThrow(EvaluationError);

      expect(engine.evaluate(TRAP_ENTRYPOINTS.data, {})).toEqual({ result: { seen: 'data' } });
      expect(engine.evaluate(`${TRAP_ENTRYPOINTS.data}/seen`, {})).toEqual({ result: 'data' });
    });
  });

  describe('GIVEN a module offering only the ABI 1.1 context calls', () => {
    let engine: PolicyEngine;

    beforeEach(async () => {
      engine = new PolicyEngine();
      engine.activate(await readBundle('old', packBundle({ '/policy.wasm': Buffer.from(abi11), '/abi11/data.json': '{"k": [1, 2]}' })));
    });

    test('WHEN evaluated THEN input and data reach the policy through opa_eval_ctx_*', () => {
      expect(engine.entrypoints()).toEqual([ABI11_ENTRYPOINTS.data, ABI11_ENTRYPOINTS.input]);
      expect(engine.evaluate(ABI11_ENTRYPOINTS.input, { user: 'alice' })).toEqual({ result: { user: 'alice' } });
      expect(engine.evaluate(ABI11_ENTRYPOINTS.data, undefined)).toEqual({ result: { abi11: { k: [1, 2] } } });
      expect(engine.evaluate('abi11/data/abi11/k/1', undefined)).toEqual({ result: 2 });
    });

    test('WHEN the input is false or absent THEN the first is a value and the second is undefined', () => {
      expect(engine.evaluate(ABI11_ENTRYPOINTS.input, false)).toEqual({ result: false });
      expect(engine.evaluate(ABI11_ENTRYPOINTS.input, undefined)).toEqual({});
    });

    test('WHEN evaluated many times THEN each call starts from a clean heap', () => {
      for (let i = 0; i < 2000; i++) {
        expect(engine.evaluate(ABI11_ENTRYPOINTS.input, { i, pad: 'x'.repeat(200) })).toEqual({ result: { i, pad: 'x'.repeat(200) } });
      }
    });
  });
});
