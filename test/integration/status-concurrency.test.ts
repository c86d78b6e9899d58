import { afterAll, describe, expect, it } from 'vitest';
import type { AGClientSocket } from 'socketcluster-client';
import type { UserStatus, UserStatusEvent } from '../../src/index.js';
import { dropTables, eventually, fastOptions, startPresenceApp, uniqueTable, type PresenceApp } from '../support/presence-app.js';
import { connectClient, disconnectAll } from '../support/clients.js';
import { HookRecorder } from '../support/hook-recorder.js';

const USERS = ['u0', 'u1', 'u2', 'u3', 'u4'];
const SOCKETS_PER_USER = 12;

/** A seeded generator, so that a failure can be replayed. */
function random(seed: number) {
  return () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

describe('two instances on one MariaDB: status decided once per change', () => {
  const apps: PresenceApp[] = [];
  const sockets: AGClientSocket[] = [];
  const table = uniqueTable('conc');

  afterAll(async () => {
    await disconnectAll(...sockets);
    for (const app of apps) await app.close();
    await dropTables(table);
  });

  it('ends with the true status for every user and a consistent chain of hooks', async () => {
    for (let i = 0; i < 2; i++) {
      apps.push(await startPresenceApp(fastOptions('mariadb', { tableName: table, usercount: false, gc: { enabled: false } }), { providers: [HookRecorder] }));
    }
    const rnd = random(20261123);
    const live = new Map<AGClientSocket, { userId: string; status: 'online' | 'idle' }>();

    // Everyone connects at once, spread over both instances.
    await Promise.all(
      USERS.flatMap((userId) =>
        Array.from({ length: SOCKETS_PER_USER }, async (_, i) => {
          const app = apps[i % 2];
          const socket = await connectClient(app.port, app.server, { token: { user_id: userId } });
          sockets.push(socket);
          live.set(socket, { userId, status: 'online' });
        }),
      ),
    );
    // Three rounds of random idle / online / disconnect, all at once.
    for (let round = 0; round < 3; round++) {
      await Promise.all(
        [...live.entries()].map(async ([socket, state]) => {
          const r = rnd();
          if (r < 0.4) {
            await socket.invoke('presence.setStatus', 'idle');
            state.status = 'idle';
          } else if (r < 0.6) {
            await socket.invoke('presence.setStatus', 'online');
            state.status = 'online';
          } else if (r < 0.75) {
            live.delete(socket);
            socket.disconnect();
          }
        }),
      );
    }
    // Some users lose every session: all sockets of u4 go.
    for (const [socket, state] of live) {
      if (state.userId === 'u4') {
        live.delete(socket);
        socket.disconnect();
      }
    }

    const truth: Record<string, UserStatus> = {};
    for (const userId of USERS) {
      const states = [...live.values()].filter((s) => s.userId === userId);
      truth[userId] = states.length === 0 ? 'offline' : states.some((s) => s.status === 'online') ? 'online' : 'idle';
    }
    await eventually(async () => {
      expect(await apps[0].presence.count('sockets')).toBe(live.size);
      const sessions = await apps[0].presence.getUserSessions('u0');
      for (const app of apps) expect(await app.presence.getUserStatuses(USERS), JSON.stringify({ truth, live: USERS.map((u) => [u, [...live.values()].filter((s) => s.userId === u).map((s) => s.status).join(',')]), u0: sessions.map((s) => s.status) })).toEqual(truth);
    }, 10_000);

    const events = apps.flatMap((app) => app.app.get(HookRecorder).events).filter((e): e is UserStatusEvent => e.type.startsWith('user.'));
    for (const userId of USERS) {
      const mine = events.filter((e) => e.userId === userId);
      // No event repeats a status, and the events form one chain from offline to the final status: each status
      // is left as often as it is entered (one more time for 'offline', one less for the final one). A change
      // emitted twice (online → online, or offline → online from both instances) breaks this.
      for (const e of mine) expect(e.previousStatus).not.toBe(e.status);
      for (const status of ['online', 'idle', 'offline'] as const) {
        const out = mine.filter((e) => e.previousStatus === status).length;
        const into = mine.filter((e) => e.status === status).length;
        expect(out - into, `${userId} ${status}: ${mine.map((e) => `${e.previousStatus}>${e.status}`).join(' ')}`).toBe(
          (status === 'offline' ? 1 : 0) - (status === truth[userId] ? 1 : 0),
        );
      }
    }
  });
});
