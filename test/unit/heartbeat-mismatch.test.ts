import { describe, expect, it } from 'vitest';
import { PresenceHeartbeat } from '../../src/cluster/presence-heartbeat.service.js';

/** A heartbeat over a store that refreshes `refreshed` rows and a writer that believes it stored `stored`. */
function heartbeat() {
  const state = { refreshed: 0, stored: 0 as number | undefined, reconciles: 0 };
  const store = { heartbeat: async () => state.refreshed };
  const writer = {
    get storedRows() {
      return state.stored;
    },
    requestReconcile: () => void state.reconciles++,
  };
  const beat = new PresenceHeartbeat({} as never, store as never, writer as never, {} as never, {} as never, {} as never);
  (beat as unknown as { logger: { warn(): void } }).logger = { warn: () => undefined } as never;
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
});
