/**
 * The wire types of channel presence are the same from both entry points, so a client never re-declares them.
 * Checked at compile time, by `npm run typecheck`.
 */
import { describe, expectTypeOf, it } from 'vitest';
import type * as client from '../../src/client/index.js';
import type * as server from '../../src/index.js';

describe('wire types', () => {
  it('are exported from the server entry and, as the same types, from the client entry', () => {
    expectTypeOf<client.ChannelDiff>().toEqualTypeOf<server.ChannelDiff>();
    expectTypeOf<client.ChannelSnapshot>().toEqualTypeOf<server.ChannelSnapshot>();
    expectTypeOf<client.Member>().toEqualTypeOf<server.Member>();
    expectTypeOf<server.ChannelDiff['joins'][number]>().toEqualTypeOf<server.Member>();
    expectTypeOf<client.UserPresenceMessage>().toEqualTypeOf<server.UserPresenceMessage>();
    expectTypeOf<client.WatchedUser>().toEqualTypeOf<server.WatchedUser>();
  });
});
