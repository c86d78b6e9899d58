import { Injectable } from '@nestjs/common';
import type { AGServer } from 'socketcluster-server';
import { PresenceConfig } from './options/presence.config.js';
import type { SessionStatus, UserStatus, UsercountType } from './options/presence-options.interface.js';
import { PresenceError } from './presence.errors.js';
import type { PresenceSession } from './presence-session.interface.js';
import { AgServerHost } from './socketcluster/ag-server.host.js';
import { LiveSessions } from './socketcluster/live-sessions.js';
import { channelProblem } from './socketcluster/socket-identity.js';
import { MAX_USER_ID_LENGTH } from './presence.constants.js';
import { PresenceStore } from './store/presence.store.js';
import { PresenceWriter } from './store/presence.writer.js';

const USERCOUNT_TYPES: readonly UsercountType[] = ['users', 'sockets', 'subscriptions'];

/** Who is online, read from the shared table: every instance gives the same answers. */
@Injectable()
export class PresenceService {
  constructor(
    private readonly config: PresenceConfig,
    private readonly store: PresenceStore,
    private readonly host: AgServerHost,
    private readonly sessions: LiveSessions,
    private readonly writer: PresenceWriter,
  ) {}

  /** The AGServer presence runs on (e.g. to sign auth tokens with `socket.setAuthToken`). */
  get server(): AGServer {
    return this.host.get();
  }

  /** Online if any session is online, idle if every session is idle, offline if there is none. */
  async getUserStatus(userId: string): Promise<UserStatus> {
    return (await this.getUserStatuses([userId]))[userId];
  }

  async getUserStatuses(userIds: string[]): Promise<Record<string, UserStatus>> {
    if (!Array.isArray(userIds)) throw new PresenceError('userIds must be an array of user ids');
    userIds.forEach(checkUserId);
    const result: Record<string, UserStatus> = {};
    for (const userId of userIds) result[userId] = 'offline';
    const sessions = await this.store.sessionsOfUsers([...new Set(userIds)]);
    for (const session of sessions) {
      const id = session.userId!;
      if (session.status === 'online') result[id] = 'online';
      else if (result[id] === 'offline') result[id] = 'idle';
    }
    return result;
  }

  async getUserSessions(userId: string): Promise<PresenceSession[]> {
    checkUserId(userId);
    return this.store.sessionsOfUsers([userId]);
  }

  async getChannelMembers(channel: string): Promise<PresenceSession[]> {
    checkChannel(channel, this.config.options.presenceChannel);
    return this.store.sessionsInChannel(channel);
  }

  /** The count of `type` (default: `usercount.type`) over the cluster, or within one channel. */
  count(type?: UsercountType, channel?: string): Promise<number> {
    const usercount = this.config.options.usercount;
    const kind = type ?? (usercount ? usercount.type : 'users');
    if (!USERCOUNT_TYPES.includes(kind)) throw new PresenceError(`count type must be one of ${USERCOUNT_TYPES.join(', ')}`);
    if (channel !== undefined) checkChannel(channel, this.config.options.presenceChannel);
    return this.store.count(kind, channel);
  }

  /** Sets the status of a socket connected to this instance; resolves once it is stored. */
  async setSessionStatus(socketId: string, status: SessionStatus): Promise<void> {
    if (status !== 'online' && status !== 'idle') throw new PresenceError(`status must be 'online' or 'idle'`);
    if (typeof socketId !== 'string') throw new PresenceError('socketId must be a string');
    const session = this.sessions.get(socketId);
    if (!session) throw new PresenceError(`socket '${socketId}' is not connected to this instance`);
    if (session.status === status) return this.writer.written();
    session.status = status;
    this.writer.touch(socketId);
    await this.writer.written();
  }
}

function checkUserId(userId: unknown): asserts userId is string {
  if (typeof userId !== 'string' || userId.length === 0 || userId.length > MAX_USER_ID_LENGTH) {
    throw new PresenceError(`a user id must be a string of 1 to ${MAX_USER_ID_LENGTH} characters`);
  }
}

function checkChannel(channel: unknown, presenceChannel: string): void {
  const problem = channelProblem(channel, presenceChannel);
  if (problem) throw new PresenceError(problem);
}
