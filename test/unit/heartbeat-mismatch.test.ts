import { describe, expect, it } from 'vitest';
import { PresenceHeartbeat } from '../../src/cluster/presence-heartbeat.service.js';

/** A heartbeat over a store that refreshes `refreshed` rows and a writer that believes it stored `stored`. */
function heartbeat() {
  const state = { refreshed: 0 as number | undefined, stored: 0 as number | undefined, reconciles: 0, down: false, expected: [] as unknown[] };
  const store = {
    heartbeat: async (_instance: unknown, _now: Date, expectedRows?: number) => {
      state.expected.push(expectedRows);
      if (state.down) throw new Error('connect ETIMEDOUT');
      return state.refreshed;
    },
  };
  const writer = {
    get storedRows() {
      return state.stored;
    },
    lastStoredRows: 12,
    requestReconcile: () => void state.reconciles++,
  };
  const config = { options: { gc: { thresholdMs: 120_000 }, statementTimeoutMs: 5000 } };
  const beat = new PresenceHeartbeat(config as never, store as never, writer as never, {} as never, {} as never, {} as never);
  (beat as unknown as { logger: object }).logger = { warn: () => undefined, log: () => undefined, error: () => undefined };
  return { beat, state };
}

describe('PresenceHeartbeat, rows refreshed against rows stored', () => {
  it('reconciles on a mismatch, but not again every beat when the reconcile left the same mismatch', async () => {
    const { beat, state } = heartbeat();
    Object.assign(state, { refreshed: 3, stored: 4 });
    for (let i = 0; i < 5; i++) await beat.beat();
    expect(state.reconciles).toBe(1);

    // A new mismatch is reconciled again.
    state.refreshed = 2;
    await beat.beat();
    expect(state.reconciles).toBe(2);

    // Once the counts agree, the same figures as before are a new mismatch.
    Object.assign(state, { refreshed: 4, stored: 4 });
    await beat.beat();
    Object.assign(state, { refreshed: 3, stored: 4 });
    await beat.beat();
    expect(state.reconciles).toBe(3);
  });

  it('does not count while writes are pending', async () => {
    const { beat, state } = heartbeat();
    Object.assign(state, { refreshed: 3, stored: undefined });
    await beat.beat();
    expect(state.reconciles).toBe(0);
  });

  it('does not count a refresh in parts that flushes wrote between', async () => {
    const { beat, state } = heartbeat();
    Object.assign(state, { refreshed: undefined, stored: 4 });
    await beat.beat();
    expect(state.reconciles).toBe(0);
  });
});

describe('PresenceHeartbeat, reaping after an outage', () => {
  /** gc.thresholdMs 120 s + statementTimeoutMs 5 s: how long a recovered instance holds off. */
  const HOLD_MS = 125_000;

  it('reaps nobody while its own renewal fails, nor for one threshold after it succeeds again', async () => {
    const { beat, state } = heartbeat();
    await beat.beat();
    state.down = true;
    await beat.beat();
    expect(beat.mayReap()).toBe(false);
    state.down = false;
    await beat.beat();
    const recovered = Date.now();
    expect(beat.mayReap(recovered + 1000)).toBe(false);
    await beat.beat();
    // Renewals go on meanwhile (the last one is recent), and the hold ends.
    (beat as unknown as { renewedAt: number }).renewedAt = recovered + HOLD_MS;
    expect(beat.mayReap(recovered + HOLD_MS + 1)).toBe(true);
  });

  it('holds off too after a renewal that came later than the threshold (a paused process)', async () => {
    const { beat } = heartbeat();
    // The last renewal is older than the threshold: the process did not run for that long.
    expect(beat.mayReap()).toBe(false);
    await beat.beat();
    expect(beat.mayReap(Date.now() + 1000)).toBe(false);
  });

  it('sizes its parts by the rows of the last flush, also while a flush is under way', async () => {
    const { beat, state } = heartbeat();
    // A flush acting on its commit: the table cannot be checked against, but a dozen rows are still a dozen.
    Object.assign(state, { refreshed: 12, stored: undefined });
    await beat.beat();
    expect(state.expected).toEqual([12]);
    expect(state.reconciles).toBe(0);
  });
});
