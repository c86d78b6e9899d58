import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BACKENDS, databaseOptions, presenceTestBed } from '../support/presence-app.js';
import { SqlStatementCounter } from '../support/sql-counter.js';
import { PresenceStore, type SocketRecord } from '../../src/store/presence.store.js';
import { REFRESH_PART, REFRESH_PART_BUSY } from '../../src/store/sockets.table.js';
import { toSqlTime } from '../../src/store/sql.dialect.js';

const SOCKETS = 4000;
const PART = 1000;

/** Every statement with its parameters, the failed ones apart, and a call when the first statement of a kind is sent. */
class Recorder extends SqlStatementCounter {
  readonly sent: Array<{ sql: string; params: unknown[] }> = [];
  readonly failed: string[] = [];
  private next?: { kind: RegExp; fire: () => void };

  constructor() {
    super({ onError: (line) => this.failed.push(line) });
  }

  override logQuery(query: string, parameters?: unknown): void {
    super.logQuery(query, parameters);
    this.sent.push({ sql: query, params: Array.isArray(parameters) ? parameters : [] });
    if (this.next?.kind.test(query)) {
      const { fire } = this.next;
      this.next = undefined;
      fire();
    }
  }

  /** Resolves with what `fire` returns, called as the next statement of `kind` is sent. */
  when<T>(kind: RegExp, fire: () => T): Promise<T> {
    return new Promise((resolve) => (this.next = { kind, fire: () => resolve(fire()) }));
  }
}

const REFRESH = /^UPDATE .* SET SCP_updated/s;

const socket = (i: number): SocketRecord => ({
  socketId: `s${i}`, userId: `u${i}`, authToken: null, ip: null, origin: null, status: 'online', connectedAt: new Date(), state: null,
});

/** Stores `sockets` as one instance's flushes of PART sockets would, each with its presence row and 2 channels. */
async function join(store: PresenceStore, instanceId: string, sockets: SocketRecord[]): Promise<void> {
  for (let i = 0; i < sockets.length; i += PART) {
    const part = sockets.slice(i, i + PART);
    await store.write({ upserts: part.map((s) => ({ socket: s, presence: true, channels: ['a', 'b'] })), removedSockets: [], removedChannels: [] }, instanceId, new Date(), {
      users: part.map((s) => s.userId!),
      deferOffline: false,
    });
  }
}

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
    await join(store, instance.id, all);

    // Every socket leaves in one flush, in another order than they came (as a storm's disconnects do); the
    // heartbeat starts as the flush sends its first DELETE.
    const from = log.sent.length;
    const started = log.when(/^\s*DELETE/i, () => store.heartbeat(instance, new Date()));
    const flush = store.write({ upserts: [], removedSockets: all.map((s) => s.socketId).reverse(), removedChannels: [] }, instance.id, new Date(), {
      users: all.map((s) => s.userId!),
      deferOffline: false,
    });
    const written = await flush;
    const refreshed = await (await started);

    expect(log.failed).toEqual([]);
    const sent = log.sent.slice(from);
    const refreshes = sent.flatMap((s, i) => (REFRESH.test(s.sql) && s.params.includes(instance.id) ? [i] : []));
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

  it('refreshes in parts, short ones while flushes come, and a flush that comes meanwhile is written between them', async () => {
    const log = new Recorder();
    const ctx = await bed.start({ database: { ...databaseOptions(backend), logger: log } as never, usercount: false, gc: { enabled: false } });
    const store = ctx.app.get(PresenceStore);
    const instance = { id: randomUUID(), host: 'test', pid: 1, startedAt: new Date() };
    const sockets = Math.ceil(REFRESH_PART / 3) + 100;
    const all = Array.from({ length: sockets }, (_, i) => socket(i));
    await join(store, instance.id, all);
    const rows = sockets * 3;

    // Nothing else writes: the parts add up to every row. Right after flushes, the parts are short ones.
    let from = log.sent.length;
    expect(await store.heartbeat(instance, new Date(), rows)).toBe(rows);
    const updates = () => log.sent.slice(from).filter((s) => REFRESH.test(s.sql) && s.params.includes(instance.id)).length;
    expect(updates()).toBe(Math.ceil(rows / REFRESH_PART_BUSY));

    // After a second without flushes, parts are of REFRESH_PART rows; a flush (10 sockets leave) asked for while
    // the first part runs is written before the second.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    from = log.sent.length;
    const at = new Date(Date.now() + 1000);
    const leave = log.when(REFRESH, () =>
      store.write({ upserts: [], removedSockets: all.slice(0, 10).map((s) => s.socketId), removedChannels: [] }, instance.id, new Date(), {
        users: all.slice(0, 10).map((s) => s.userId!),
        deferOffline: false,
      }),
    );
    const refreshed = await store.heartbeat(instance, at, rows);
    await (await leave);
    const sent = log.sent.slice(from);
    const refreshes = sent.flatMap((s, i) => (REFRESH.test(s.sql) && s.params.includes(instance.id) ? [i] : []));
    const removal = sent.findIndex((s) => /^\s*DELETE/i.test(s.sql));
    expect(refreshes).toHaveLength(2);
    expect(removal).toBeGreaterThan(refreshes[0]);
    expect(removal).toBeLessThan(refreshes[1]);
    // Its count matches no moment of the table, so it says none; every row left was refreshed all the same.
    expect(refreshed).toBeUndefined();
    expect(log.failed).toEqual([]);
    const table = backend === 'mariadb' ? `\`${ctx.table}\`` : `"${ctx.table}"`;
    const [{ n }] = await ctx.sql<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${table} WHERE SCP_instance_id = ? AND SCP_updated < ?`, [instance.id, toSqlTime(at)]);
    expect(Number(n)).toBe(0);
    expect(await store.heartbeat(instance, new Date(), rows - 30)).toBe(rows - 30);
  });
  it('lets a flush whose timer fires during a refresh in parts in between them', async () => {
    const log = new Recorder();
    const ctx = await bed.start({ database: { ...databaseOptions(backend), logger: log } as never, usercount: false, gc: { enabled: false } });
    const store = ctx.app.get(PresenceStore);
    const instance = { id: randomUUID(), host: 'test', pid: 1, startedAt: new Date() };
    const all = Array.from({ length: 4 * REFRESH_PART_BUSY }, (_, i) => socket(i));
    await join(store, instance.id, all);

    // Right after flushes: parts of REFRESH_PART_BUSY rows, 12 of them. A timer set as the first is sent asks for a
    // flush; SQLite runs its statements on the event loop, so only a turn of it between parts lets the timer fire.
    const from = log.sent.length;
    const leave = log.when(REFRESH, () =>
      new Promise((resolve) => setTimeout(resolve, 0)).then(() =>
        store.write({ upserts: [], removedSockets: [all[0].socketId], removedChannels: [] }, instance.id, new Date(), { users: [all[0].userId!], deferOffline: false }),
      ),
    );
    await store.heartbeat(instance, new Date(), all.length * 3);
    await (await leave);
    const sent = log.sent.slice(from);
    const refreshes = sent.flatMap((s, i) => (REFRESH.test(s.sql) && s.params.includes(instance.id) ? [i] : []));
    const removal = sent.findIndex((s) => /^\s*DELETE/i.test(s.sql));
    expect(refreshes.length).toBeGreaterThanOrEqual(12);
    expect(removal).toBeGreaterThan(refreshes[0]);
    expect(removal).toBeLessThan(refreshes[3]);
    expect(log.failed).toEqual([]);
  });
});
