import { BufferedEvent, DecisionLogBuffer } from '../../../../runtime/src/plugins/decision-logs/decision-log-buffer';

function ev(id: string, bytes = 10): BufferedEvent {
  return { decisionId: id, json: `{"decision_id":"${id}"}`, bytes };
}
const ids = (events: readonly BufferedEvent[]) => events.map((e) => e.decisionId);

describe('GIVEN a buffer of 30 bytes', () => {
  test('WHEN events fit THEN nothing is dropped and drain returns them oldest first', () => {
    const buffer = new DecisionLogBuffer(30);

    const dropped = [buffer.push(ev('a')), buffer.push(ev('b')), buffer.push(ev('c'))].flat();

    expect(dropped).toEqual([]);
    expect(buffer.bytes).toBe(30);
    expect(ids(buffer.drain())).toEqual(['a', 'b', 'c']);
    expect(buffer.length).toBe(0);
    expect(buffer.bytes).toBe(0);
  });

  test('WHEN a new event does not fit THEN exactly the oldest are dropped and returned', () => {
    const buffer = new DecisionLogBuffer(30);
    ['a', 'b', 'c'].forEach((id) => buffer.push(ev(id)));

    const dropped = buffer.push(ev('d', 20));

    expect(ids(dropped)).toEqual(['a', 'b']);
    expect(ids(buffer.drain())).toEqual(['c', 'd']);
  });

  test('WHEN one event is larger than the whole buffer THEN that event alone is dropped', () => {
    const buffer = new DecisionLogBuffer(30);
    buffer.push(ev('a'));

    expect(ids(buffer.push(ev('huge', 31)))).toEqual(['huge']);
    expect(ids(buffer.drain())).toEqual(['a']);
  });

  test('WHEN failed events are requeued THEN they come before newer ones, and overflow drops the oldest of them', () => {
    const buffer = new DecisionLogBuffer(30);
    buffer.push(ev('new1'));
    buffer.push(ev('new2'));

    const dropped = buffer.requeue([ev('old1'), ev('old2')]);

    expect(ids(dropped)).toEqual(['old1']);
    expect(ids(buffer.drain())).toEqual(['old2', 'new1', 'new2']);
  });
});

describe('GIVEN an unbounded buffer (limit 0, OPA\'s default)', () => {
  test('WHEN many events are pushed THEN none is dropped', () => {
    const buffer = new DecisionLogBuffer(0);
    for (let i = 0; i < 1000; i++) expect(buffer.push(ev(`e${i}`, 1000))).toEqual([]);
    expect(buffer.requeue([ev('x', 1e9)])).toEqual([]);
    expect(buffer.length).toBe(1001);
  });
});
