import { randomUUID } from 'node:crypto';
import { opaDecisionLogs } from './opa-oracle';
import { readBundle } from '../../../../runtime/src/engine/bundle-reader';
import { PolicyEngine } from '../../../../runtime/src/engine/policy-engine';
import { parseExactJson, stringifyJson } from '../../../../runtime/src/json-text';
import { SILENT_LOGGER } from '../../../../runtime/src/logger';
import { parseDecisionLogsConfig } from '../../../../runtime/src/plugins/decision-logs/config';
import { DecisionLogsPlugin, METRIC } from '../../../../runtime/src/plugins/decision-logs/decision-logs-plugin';
import { MaskDrop, MaskRuleError, parseMaskRules, PolicyEvaluator } from '../../../../runtime/src/plugins/decision-logs/mask-drop';
import { parseServices } from '../../../../runtime/src/services/service-config';
import { buildWasmBundle } from '../../../support/opa';

const APP_REGO = `
package app

allow if input.user.name == "bob"

doc := {"secret": "s3cr3t", "public": 1}
`;

// Cases of https://www.openpolicyagent.org/docs/management-decision-logs#masking-sensitive-data
// and "Drop Decision Logs", one condition per case.
const LOG_REGO = `
package system.log

mask contains "/input/password"

mask contains "/input/missing/deep"

mask contains "/input/items/0" if input.input.items

mask contains {"op": "upsert", "path": "/input/user/name", "value": "**REDACTED**"} if input.input.user

mask contains {"op": "upsert", "path": "/input/added/by/mask", "value": true} if input.input.case == "upsert-creates"

mask contains "/result/secret" if input.path == "app/doc"

mask contains "/result" if input.input.hide_result

drop if input.input.drop == true

drop if {
  input.path == "app/allow"
  input.input.case == "drop-by-path"
}
`;

const REQUESTS = [
  { path: 'app/allow', input: { case: 'erase', user: { name: 'bob' }, password: 'hunter2' } },
  { path: 'app/allow', input: { case: 'erase-missing', other: 1 } },
  { path: 'app/allow', input: { case: 'array', items: ['a', 'b', 'c'] } },
  { path: 'app/allow', input: { case: 'upsert-creates', x: 1 } },
  { path: 'app/doc', input: { case: 'result-key' } },
  { path: 'app/allow', input: { case: 'whole-result', hide_result: true, user: { name: 'bob' } } },
  { path: 'app/allow', input: { case: 'drop', drop: true, password: 'p' } },
  { path: 'app/allow', input: { case: 'drop-by-path' } },
  { path: 'app/allow', input: { case: 'plain' } },
  { path: 'app/nothing', input: { case: 'undefined-result', password: 'p' } },
];

let engine: PolicyEngine;

beforeAll(async () => {
  const archive = await buildWasmBundle({
    modules: { 'app.rego': APP_REGO, 'log.rego': LOG_REGO },
    entrypoints: ['app/allow', 'app/doc', 'system/log/mask', 'system/log/drop'],
    revision: 'rev-7',
  });
  engine = new PolicyEngine();
  engine.activate(await readBundle('authz', archive));
});

/** Runs the requests through the engine and the plugin, as the server would, and returns the printed events. */
function logThroughPlugin(evaluator: PolicyEvaluator): { events: Array<Record<string, unknown>>; plugin: DecisionLogsPlugin } {
  const lines: Array<Record<string, unknown>> = [];
  const config = parseDecisionLogsConfig({ console: true }, parseServices(undefined))!;
  const plugin = new DecisionLogsPlugin({ config, labels: { id: 'i', version: 'v' }, engine: evaluator, logger: SILENT_LOGGER, console: (l) => lines.push(JSON.parse(l)) });
  for (const r of REQUESTS) {
    const { result } = engine.evaluate(r.path, r.input);
    plugin.onDecision({
      decisionId: randomUUID(), path: r.path, input: r.input, result, requestedBy: '127.0.0.1:1', timestamp: new Date(), metrics: {}, bundles: engine.revisions(),
    });
  }
  return { events: lines, plugin };
}

/** The parts of an event mask and drop decide. */
function masked(event: Record<string, unknown>) {
  return {
    case: (event.input as { case?: string } | undefined)?.case,
    path: event.path,
    input: event.input,
    result: event.result,
    erased: [...(event.erased as string[] ?? [])].sort(),
    masked: [...(event.masked as string[] ?? [])].sort(),
  };
}

describe('GIVEN a bundle with system/log/mask and system/log/drop compiled by the pinned OPA', () => {
  test('WHEN decisions are logged THEN drop and mask give the events OPA\'s own server logs for the same decisions', async () => {
    const ours = logThroughPlugin(engine).events;
    const opas = await opaDecisionLogs({ 'app.rego': APP_REGO, 'log.rego': LOG_REGO }, REQUESTS);

    expect(ours.map(masked)).toEqual(opas.map(masked));
    // And the oracle did exercise every kind of rule.
    const cases = Object.fromEntries(ours.map((e) => [masked(e).case, masked(e)]));
    expect(cases.erase).toMatchObject({ input: { case: 'erase', user: { name: '**REDACTED**' } }, erased: ['/input/password'], masked: ['/input/user/name'] });
    expect(cases['erase-missing']).toMatchObject({ erased: [], masked: [] });
    expect(cases.array).toMatchObject({ input: { items: ['b', 'c'] }, erased: ['/input/items/0'] });
    expect(cases['upsert-creates']).toMatchObject({ input: { added: { by: { mask: true } } }, masked: ['/input/added/by/mask'] });
    expect(cases['result-key']).toMatchObject({ result: { public: 1 }, erased: ['/result/secret'] });
    expect(cases['whole-result'].result).toBeUndefined();
    expect(cases['undefined-result']).toMatchObject({ erased: ['/input/password'] });
    expect(Object.keys(cases)).not.toContain('drop');
    expect(Object.keys(cases)).not.toContain('drop-by-path');
  }, 120_000);

  test('WHEN events are masked THEN the values the server returned are left intact', () => {
    const input = { case: 'erase', user: { name: 'bob' }, password: 'hunter2' };
    const result = { secret: 'x' };
    const event = { labels: {}, decision_id: 'd', path: 'app/doc', input, result, timestamp: 't' };

    new MaskDrop(engine, 'system/log/mask', 'system/log/drop').mask(event);

    expect(input).toEqual({ case: 'erase', user: { name: 'bob' }, password: 'hunter2' });
    expect(result).toEqual({ secret: 'x' });
    expect(event.input).toEqual({ case: 'erase', user: { name: '**REDACTED**' } });
  });

  test('WHEN an event with numbers kept as written is masked THEN they stay as written and the mask applies', () => {
    const input = parseExactJson('{"case":"erase","user":{"name":"bob","id":9007199254740993},"password":"p","score":1.0}');
    const event = { labels: {}, decision_id: 'd', path: 'app/allow', input, timestamp: 't' };

    new MaskDrop(engine, 'system/log/mask', 'system/log/drop').mask(event);

    expect(stringifyJson(event.input)).toBe('{"case":"erase","user":{"name":"**REDACTED**","id":9007199254740993},"score":1.0}');
    expect(stringifyJson(input)).toBe('{"case":"erase","user":{"name":"bob","id":9007199254740993},"password":"p","score":1.0}');
  });

  test('WHEN events are dropped THEN the drops are counted', () => {
    const { plugin } = logThroughPlugin(engine);

    expect(plugin.metrics()[METRIC.droppedByPolicy]).toBe(2);
    expect(plugin.metrics()[METRIC.decisions]).toBe(REQUESTS.length);
  });
});

describe('GIVEN an engine without the mask and drop entrypoints', () => {
  test('WHEN decisions are logged THEN they are neither evaluated for mask nor drop', () => {
    const evaluate = jest.fn(() => ({ result: true }));
    const evaluator: PolicyEvaluator = { entrypoints: () => ['app/allow'], evaluate };
    const md = new MaskDrop(evaluator, 'system/log/mask', 'system/log/drop');
    const event = { labels: {}, decision_id: 'd', input: { password: 'p' }, timestamp: 't' };

    expect(md.shouldDrop(event)).toBe(false);
    md.mask(event);

    expect(evaluate).not.toHaveBeenCalled();
    expect(event.input).toEqual({ password: 'p' });
  });
});

describe('GIVEN a mask policy that returns something OPA refuses', () => {
  test.each([
    ['a non-set result', 'yes', 'mask policy must return a set of rules, got "yes"'],
    ['an empty pointer', [''], 'mask must be non-empty'],
    ['a pointer without a slash', ['input/password'], 'mask must be slash-prefixed: "input/password"'],
    ['a pointer outside input and result', ['/labels/id'], 'mask prefix not allowed: labels'],
    ['an unknown op', [{ op: 'replace', path: '/input/a' }], 'mask op is not supported: "replace"'],
    ['an object without op', [{ path: '/input/a' }], 'mask op is not supported: undefined'],
    ['an object without path', [{ op: 'remove' }], 'mask rule path must be a string, got undefined'],
    ['a number', [3], 'invalid mask rule format: 3'],
  ])('WHEN it returns %s THEN the rules are refused with OPA\'s message', (_, value, message) => {
    expect(() => parseMaskRules(value)).toThrow(MaskRuleError);
    expect(() => parseMaskRules(value)).toThrow(message);
  });

  test('WHEN a decision is logged THEN its event is not recorded, and the failure is logged with its decision_id and counted', () => {
    const errors: Array<Record<string, unknown> | undefined> = [];
    const evaluator: PolicyEvaluator = { entrypoints: () => ['system/log/mask'], evaluate: () => ({ result: ['/labels/id'] }) };
    const config = parseDecisionLogsConfig({ console: true }, parseServices(undefined))!;
    const lines: string[] = [];
    const plugin = new DecisionLogsPlugin({
      config,
      labels: {},
      engine: evaluator,
      console: (l) => lines.push(l),
      logger: { ...SILENT_LOGGER, error: (_msg, fields) => errors.push(fields) },
    });

    plugin.onDecision({ decisionId: 'd-1', path: 'app/allow', requestedBy: '', timestamp: new Date(), metrics: {}, bundles: {} });

    expect(lines).toEqual([]);
    expect(errors).toEqual([expect.objectContaining({ decision_id: 'd-1', error: expect.any(MaskRuleError) })]);
    expect(plugin.metrics()[METRIC.policyFailure]).toBe(1);
  });
});
