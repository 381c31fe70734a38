import type { DecisionRecord } from '../../../../runtime/src/contracts/decision-record';
import {
  consoleLine, eventFromRecord, formatTimestamp, inOpaOrder, withOutcome,
} from '../../../../runtime/src/plugins/decision-logs/decision-log-event';

const LABELS = { app: 'orders', id: '1780d507-aea2-45cc-ae50-fa153c8e4a5a', version: '0.1.0' };

function record(overrides: Partial<DecisionRecord> = {}): DecisionRecord {
  return {
    decisionId: '4ca636c1-55e4-417a-b1d8-4aceb67960d1',
    path: 'http/example/authz/allow',
    input: { method: 'GET', path: '/salary/bob' },
    result: true,
    requestedBy: '127.0.0.1:59943',
    timestamp: new Date('2018-01-01T00:00:00.120Z'),
    metrics: { timer_rego_query_eval_ns: 1234 },
    bundles: { authz: { revision: 'W3sibCI6InN5cy9jYXRhbG9nIiwicyI6NDA3MX1d' } },
    ...overrides,
  };
}

describe('GIVEN a decision the server answered', () => {
  test('WHEN it becomes an event THEN it has OPA\'s fields, in OPA\'s order', () => {
    const r = record();

    const event = inOpaOrder(withOutcome(eventFromRecord(r, LABELS), r));

    // https://www.openpolicyagent.org/docs/management-decision-logs#decision-log-service-api
    expect(Object.keys(event)).toEqual(['labels', 'decision_id', 'bundles', 'path', 'input', 'result', 'requested_by', 'timestamp', 'metrics']);
    expect(event.labels).toEqual(LABELS);
    expect(event.decision_id).toBe('4ca636c1-55e4-417a-b1d8-4aceb67960d1');
    expect(event.bundles).toEqual({ authz: { revision: 'W3sibCI6InN5cy9jYXRhbG9nIiwicyI6NDA3MX1d' } });
    expect(event.path).toBe('http/example/authz/allow');
    expect(event.input).toEqual({ method: 'GET', path: '/salary/bob' });
    expect(event.result).toBe(true);
    expect(event.requested_by).toBe('127.0.0.1:59943');
    expect(event.timestamp).toBe('2018-01-01T00:00:00.12Z');
    expect(event.metrics).toEqual({ timer_rego_query_eval_ns: 1234 });
  });

  test('WHEN the decision was undefined and had no input THEN result and input are absent, not null', () => {
    const r = record({ result: undefined, input: undefined, bundles: {}, metrics: {} });

    const json = JSON.parse(JSON.stringify(inOpaOrder(withOutcome(eventFromRecord(r, LABELS), r))));

    expect(json).not.toHaveProperty('result');
    expect(json).not.toHaveProperty('input');
    expect(json).not.toHaveProperty('bundles');
    expect(json).not.toHaveProperty('metrics');
  });

  test('WHEN the evaluation failed THEN the event carries OPA\'s error object', () => {
    const r = record({ result: undefined, error: { code: 'internal_error', message: 'eval_conflict_error: complete rules must not produce multiple outputs' } });

    const event = inOpaOrder(withOutcome(eventFromRecord(r, LABELS), r));

    expect(event.error).toEqual({ code: 'internal_error', message: 'eval_conflict_error: complete rules must not produce multiple outputs' });
    expect(Object.keys(event).indexOf('error')).toBe(Object.keys(event).indexOf('requested_by') - 1);
  });

  test('WHEN the drop policy sees the event THEN it has neither metrics nor error yet (as OPA evaluates drop before adding them)', () => {
    const event = eventFromRecord(record({ error: { code: 'x', message: 'y' } }), LABELS);

    expect(event).not.toHaveProperty('metrics');
    expect(event).not.toHaveProperty('error');
  });

  test.each([
    ['2018-01-01T00:00:00.000Z', '2018-01-01T00:00:00Z'],
    ['2018-01-01T00:00:00.100Z', '2018-01-01T00:00:00.1Z'],
    ['2018-01-01T00:00:00.123Z', '2018-01-01T00:00:00.123Z'],
  ])('WHEN the time is %s THEN the timestamp is %s (RFC 3339 in UTC, as Go prints it)', (iso, expected) => {
    expect(formatTimestamp(new Date(iso))).toBe(expected);
  });

  test('WHEN it is printed to the console THEN the line is the event plus OPA\'s level, msg, time and type', () => {
    const r = record();
    const event = inOpaOrder(withOutcome(eventFromRecord(r, LABELS), r));

    const line = consoleLine(event, new Date('2018-01-01T00:00:01.000Z'));

    expect(line.endsWith('\n')).toBe(true);
    expect(line.trimEnd()).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({
      ...JSON.parse(JSON.stringify(event)),
      level: 'info',
      msg: 'Decision Log',
      time: '2018-01-01T00:00:01Z',
      type: 'openpolicyagent.org/decision_logs',
    });
  });
});
