/**
 * Paired measurement: the subjects of one figure (the extension and its references) take turns in
 * short blocks, the order rotating every round, instead of one long run each. On a shared machine a
 * burst of load from elsewhere then falls on every subject alike, and the ratio between them, the
 * figure the bench reports, stays meaningful.
 */
import { QUICK } from './config';

/** Rounds of turns per figure. */
export const ROUNDS = QUICK ? 4 : 10;

/**
 * Runs `block(subject, round)` for every subject in each of `rounds` rounds, the first subject of
 * a round moving one place each round; resolves with each subject's results in round order.
 */
export async function takeTurns<S extends string, T>(
  subjects: readonly S[], rounds: number, block: (subject: S, round: number) => Promise<T>,
): Promise<Record<S, T[]>> {
  const out = Object.fromEntries(subjects.map((s) => [s, [] as T[]])) as Record<S, T[]>;
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < subjects.length; i++) {
      const subject = subjects[(i + round) % subjects.length];
      out[subject].push(await block(subject, round));
    }
  }
  return out;
}
