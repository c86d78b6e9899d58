import { describe, expect, it } from 'vitest';
import type { AGServerSocket } from 'socketcluster-server';
import { BACKENDS, databaseOptions, presenceTestBed } from '../support/presence-app.js';
import { HookRecorder } from '../support/hook-recorder.js';
import { SqlStatementCounter } from '../support/sql-counter.js';
import { LiveSessions } from '../../src/tracker/live-sessions.registry.js';
import { MAX_FLUSH_SOCKETS, PresenceWriter } from '../../src/tracker/presence.writer.js';

const SOCKETS = 2 * MAX_FLUSH_SOCKETS + 500;

/** As much of a server socket as the writer reads. */
function fakeSocket(i: number) {
  return { id: `s${i}`, authToken: { user_id: `u${i}` }, state: 'open', OPEN: 'open', remoteAddress: '127.0.0.1', request: { headers: {} }, subscriptions: () => ['room'] };
}

describe.each(BACKENDS)('a storm larger than one flush (%s)', (backend) => {
  const bed = presenceTestBed(backend);

  it('is written in bounded transactions, one after another, with every hook once', async () => {
    const log = new SqlStatementCounter();
    const ctx = await bed.start({ database: { ...databaseOptions(backend), logger: log } as never, usercount: false, gc: { enabled: false } }, { providers: [HookRecorder] });
    const hooks = ctx.app.get(HookRecorder);
    const sessions = ctx.app.get(LiveSessions);
    const writer = ctx.app.get(PresenceWriter);
    const transactions = () => {
      const { kinds } = log.snapshot();
      return (kinds['START TRANSACTION'] ?? 0) + (kinds['BEGIN TRANSACTION'] ?? 0);
    };
    const parts = Math.ceil(SOCKETS / MAX_FLUSH_SOCKETS);

    const sockets = Array.from({ length: SOCKETS }, (_, i) => fakeSocket(i));
    let before = transactions();
    for (const socket of sockets) {
      sessions.add(socket as unknown as AGServerSocket);
      writer.touch(socket.id);
    }
    await writer.written();
    expect(transactions() - before).toBe(parts);
    expect(await ctx.presence.count('sockets')).toBe(SOCKETS);

    hooks.clear();
    before = transactions();
    for (const socket of sockets) {
      socket.state = 'closed';
      sessions.remove(socket.id);
      writer.touch(socket.id);
    }
    await writer.written();
    expect(transactions() - before).toBe(parts);
    expect(await ctx.presence.count('sockets')).toBe(0);
    const offline = hooks.userLines().filter((line) => line.startsWith('user.offline:'));
    expect(offline).toHaveLength(SOCKETS);
    expect(new Set(offline).size).toBe(SOCKETS);
  });
});
