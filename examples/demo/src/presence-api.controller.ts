import { BadRequestException, Controller, Get, Param, Query } from '@nestjs/common';
import { PresenceError, PresenceService, type UserStatus, type UsercountType } from 'nestjs-sc-presence';

const COUNT_TYPES: readonly UsercountType[] = ['users', 'sockets', 'subscriptions'];
const MAX_ID_LENGTH = 255;

export interface UserStatusResponse {
  userId: string;
  status: UserStatus;
  since: string | null;
  lastSeen: string | null;
}

export interface ChannelMember {
  userId: string;
  status: 'online' | 'idle';
}

export interface ChannelMembersResponse {
  channel: string;
  /** One entry per user (online if any of the user's sockets in the channel is online), sorted by user id. */
  members: ChannelMember[];
  /** Sockets in the channel without a user (not signed in): counted, not listed. */
  anonymous: number;
}

export interface CountResponse {
  type: UsercountType;
  channel?: string;
  count: number;
}

/**
 * The read-only presence API of the demo, answered from the shared table. Bad input is a 400 with a message;
 * nothing here returns auth tokens, IP addresses or Origins.
 */
@Controller('presence')
export class PresenceApiController {
  constructor(private readonly presence: PresenceService) {}

  @Get('users/:id')
  async user(@Param('id') id: string): Promise<UserStatusResponse> {
    checkId('user id', id);
    const details = (await refuseBadInput(this.presence.getUserStatusDetails([id])))[id];
    return { userId: id, status: details.status, since: iso(details.since), lastSeen: iso(details.lastSeen) };
  }

  @Get('channels/:channel/members')
  async members(@Param('channel') channel: string): Promise<ChannelMembersResponse> {
    checkId('channel', channel);
    const sessions = await refuseBadInput(this.presence.getChannelMembers(channel));
    const members = new Map<string, ChannelMember>();
    let anonymous = 0;
    for (const session of sessions) {
      if (session.userId === null) {
        anonymous++;
        continue;
      }
      const member = members.get(session.userId);
      if (!member) members.set(session.userId, { userId: session.userId, status: session.status });
      else if (session.status === 'online') member.status = 'online';
    }
    return { channel, members: [...members.values()].sort((a, b) => compare(a.userId, b.userId)), anonymous };
  }

  @Get('count')
  async count(@Query('type') type: unknown, @Query('channel') channel: unknown): Promise<CountResponse> {
    const kind = type === undefined ? 'users' : type;
    if (typeof kind !== 'string' || !COUNT_TYPES.includes(kind as UsercountType)) {
      throw new BadRequestException(`type must be one of ${COUNT_TYPES.join(', ')}`);
    }
    if (channel !== undefined) {
      if (typeof channel !== 'string') throw new BadRequestException('channel must be given once');
      checkId('channel', channel);
    }
    const count = await refuseBadInput(this.presence.count(kind as UsercountType, channel));
    return channel === undefined ? { type: kind as UsercountType, count } : { type: kind as UsercountType, channel, count };
  }
}

function checkId(what: string, value: string): void {
  if (value.length === 0) throw new BadRequestException(`${what} must not be empty`);
  if (value.length > MAX_ID_LENGTH) throw new BadRequestException(`${what} is limited to ${MAX_ID_LENGTH} characters (got ${value.length})`);
}

/** The module refuses some input itself (the presence channel, for one): that is the client's mistake, a 400. */
async function refuseBadInput<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    if (error instanceof PresenceError) throw new BadRequestException(error.message);
    throw error;
  }
}

function iso(date: Date | null): string | null {
  return date ? date.toISOString() : null;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
