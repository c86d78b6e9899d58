import { afterEach, describe, expect, it } from 'vitest';
import { dropTables, eventually, fastOptions, sleep, startPresenceApp, type PresenceApp } from '../support/presence-app.js';
import { connectClient, disconnectAll } from '../support/clients.js';
import { observeExchange } from '../support/usercount-observer.js';

describe.each(['sqlite', 'mariadb'] as const)('scratch %s', (backend) => {
  let ctx: PresenceApp | undefined;
  afterEach(async () => { await ctx?.close(); if (ctx && backend === 'mariadb') await dropTables(ctx.table); });
  it('leave burst', async () => {
    ctx = await startPresenceApp(fastOptions(backend, { flushIntervalMs: 20, usercount: { connectDelayMs: 200 } }));
    const o = observeExchange(ctx.server);
    const s = await Promise.all(Array.from({ length: 20 }, (_, i) => connectClient(ctx!.port, ctx!.server, { token: { user_id: `u${i}` } })));
    await eventually(() => expect(o.last()).toBe(20));
    await sleep(300);
    const n = o.received.length;
    await disconnectAll(...s);
    await eventually(() => expect(o.last()).toBe(0));
    await sleep(500);
    console.log(backend, 'joins publishes', n, 'leave publishes', o.values().slice(n));
  });
});
