/**
 * The module's procedures are answered by one router for the whole server, from the inbound middleware it
 * already installs: a connected socket has no procedure consumer and no middleware consumer of its own (those
 * cost a few KB per socket), and the app's inbound middleware still decides an invoke before it is answered.
 */
import { describe, expect, it } from 'vitest';
import type { AGServerSocket } from 'socketcluster-server';
import { BACKENDS, eventually, presenceTestBed, type PresenceApp } from '../support/presence-app.js';
import { subscribe } from '../support/clients.js';

type InboundStream = AsyncIterable<{ type: string; INVOKE: string; procedure?: string; data?: unknown; socket: AGServerSocket; allow(p?: unknown): void; block(e: Error): void }>;

describe.each(BACKENDS)('procedure router (%s)', (backend) => {
  const bed = presenceTestBed(backend);
  let ctx: PresenceApp;

  const serverSocketOf = (id: string) => ctx.server.clients[id] as AGServerSocket & {
    getAllProceduresConsumerStatsList(): unknown[];
    middlewareInboundStream: { getConsumerCount(): number };
  };

  it('answers presence.setStatus and presence.members with no consumer per socket', async () => {
    ctx = await bed.start({ channelPresence: { channels: /^room:/ } });
    const sockets = await Promise.all(['ann', 'bob', 'cid'].map((user) => bed.connect({ token: { user_id: user } })));
    await Promise.all(sockets.map((socket) => subscribe(socket, 'room:1')));
    await Promise.all(sockets.map((socket) => socket.invoke('presence.setStatus', 'idle')));
    const snapshot = (await sockets[0].invoke('presence.members', 'room:1')) as { members: Array<{ userId: string; status: string }> };
    expect(snapshot.members.map((m) => `${m.userId}:${m.status}`).sort()).toEqual(['ann:idle', 'bob:idle', 'cid:idle']);
    for (const socket of sockets) {
      const own = serverSocketOf(socket.id!);
      expect(own.getAllProceduresConsumerStatsList()).toEqual([]);
      expect(own.middlewareInboundStream.getConsumerCount()).toBe(0);
    }
  });

  it("lets the app's inbound middleware decide an invoke first, and answers with the data it let through", async () => {
    ctx = await bed.start();
    ctx.server.setMiddleware(ctx.server.MIDDLEWARE_INBOUND, (async (stream: InboundStream) => {
      for await (const action of stream) {
        if (action.type !== action.INVOKE || action.procedure !== 'presence.setStatus') action.allow();
        else if ((action.socket.authToken as { user_id?: string } | null)?.user_id === 'mallory') action.block(new Error('app: not you'));
        else if (action.data === 'away') action.allow({ data: 'idle' }); // the app's own word for it
        else action.allow();
      }
    }) as never);
    const [ann, mallory] = await Promise.all(['ann', 'mallory'].map((user) => bed.connect({ token: { user_id: user } })));
    await expect(mallory.invoke('presence.setStatus', 'idle')).rejects.toThrow('app: not you');
    await ann.invoke('presence.setStatus', 'away');
    await eventually(async () => expect(await ctx.presence.getUserStatuses(['ann', 'mallory'])).toMatchObject({ ann: 'idle', mallory: 'online' }));
  });
});
