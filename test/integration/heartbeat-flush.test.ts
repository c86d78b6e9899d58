import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BACKENDS, databaseOptions, presenceTestBed } from '../support/presence-app.js';
import { SqlStatementCounter } from '../support/sql-counter.js';
import { PresenceStore, type SocketRecord } from '../../src/store/presence.store.js';

const SOCKETS = 4000;
const PART = 1000;

/** Every statement with its parameters, the failed ones apart, and a call when the first DELETE is sent. */
class Recorder extends SqlStatementCounter {
  readonly sent: Array<{ sql: string; params: unknown[] }> = [];
  readonly failed: string[] = [];
  onDelete?: () => void;

  constructor() {
    super({ onError: (line) => this.failed.push(line) });
  }

  override logQuery(query: string, parameters?: unknown): void {
    super.logQuery(query, parameters);
    this.sent.push({ sql: query, params: Array.isArray(parameters) ? parameters : [] });
    if (/^\s*DELETE/i.test(query) && this.onDelete) {
      const fire = this.onDelete;
      this.onDelete = undefined;
      fire();
    }
  }
}

const socket = (i: number): SocketRecord => ({
  socketId: `s${i}`, userId: `u${i}`, authToken: null, ip: null, origin: null, status: 'online', connectedAt: new Date(), state: null,
});

describe.each(BACKENDS)('a heartbeat during a large flush of the same instance (%s)', (backend) => {
  const bed = presenceTestBed(backend);

  it('refreshes after the flush has committed: no deadlock, no retry, every user offline once', async () => {
    const log = new Recorder();
    const ctx = await bed.start({ database: { ...databaseOptions(backend), logger: log } as never, usercount: false, gc: { enabled: false } });
    const store = ctx.app.get(PresenceStore);
    // An instance of our own making, so that the app's own heartbeat does not touch its rows.
    const instance = { id: randomUUID(), host: 'test', pid: 1, startedAt: new Date() };
    await store.heartbeat(instance, new Date());
    const all = Array.from({ length: SOCKETS }, (_, i) => socket(i));
    for (let i = 0; i < SOCKETS; i += PART) {
      const part = all.slice(i, i + PART);
      await store.write({ upserts: part.map((s) => ({ socket: s, presence: true, channels: ['a', 'b'] })), removedSockets: [], removedChannels: [] }, instance.id, new Date(), {
        users: part.map((s) => s.userId!),
        deferOffline: false,
      });
    }

    // Every socket leaves in one flush, in another order than they came (as a storm's disconnects do); the
    // heartbeat starts as the flush sends its first DELETE.
    const from = log.sent.length;
    let beat: Promise<number> | undefined;
    const started = new Promise<void>((resolve) => {
      log.onDelete = () => {
        beat = store.heartbeat(instance, new Date());
        resolve();
      };
    });
    const flush = store.write({ upserts: [], removedSockets: all.map((s) => s.socketId).reverse(), removedChannels: [] }, instance.id, new Date(), {
      users: all.map((s) => s.userId!),
      deferOffline: false,
    });
    const written = await flush;
    await started;
    const refreshed = await beat!;

    expect(log.failed).toEqual([]);
    const sent = log.sent.slice(from);
    const refreshes = sent.flatMap((s, i) => (/^UPDATE .* SET SCP_updated/s.test(s.sql) && s.params.includes(instance.id) ? [i] : []));
    const lastDelete = sent.map((s) => /^\s*DELETE/i.test(s.sql)).lastIndexOf(true);
    const commit = sent.findIndex((s, i) => i > lastDelete && /^COMMIT/i.test(s.sql));
    // One refresh, sent after the flush committed: it found none of the rows the flush deleted.
    expect(refreshes).toHaveLength(1);
    expect(commit).toBeGreaterThan(lastDelete);
    expect(refreshes[0]).toBeGreaterThan(commit);
    expect(refreshed).toBe(0);
    expect(written.changes).toHaveLength(SOCKETS);
    expect(new Set(written.changes.map((c) => `${c.from}>${c.to}`))).toEqual(new Set(['online>offline']));
    const [{ n }] = await ctx.sql<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${backend === 'mariadb' ? `\`${ctx.table}\`` : `"${ctx.table}"`} WHERE SCP_instance_id = ?`, [instance.id]);
    expect(Number(n)).toBe(0);
  });
});
