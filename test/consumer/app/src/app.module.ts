import { Controller, Get, Injectable, Module, Param } from '@nestjs/common';
import { OnUserOnline, PresenceModule, PresenceService, type UserStatusEvent } from 'nestjs-sc-presence';

// A minimal app as a user writes it: one hook, one route that asks PresenceService.
@Injectable()
export class OnlineLog {
  @OnUserOnline()
  online(event: UserStatusEvent): void {
    console.log(`hook ${event.type} ${event.userId} ${event.reason}`);
  }
}

@Controller('presence')
export class PresenceController {
  constructor(private readonly presence: PresenceService) {}

  @Get(':userId')
  async status(@Param('userId') userId: string) {
    return { status: await this.presence.getUserStatus(userId), users: await this.presence.count('users') };
  }

  // Where a real app checks a password first: the README's login, signed by the module.
  @Get(':userId/token')
  async token(@Param('userId') userId: string) {
    return { token: await this.presence.signToken({ user_id: userId }) };
  }
}

const database = process.env.DATABASE_URL
  ? { type: 'mysql' as const, url: process.env.DATABASE_URL }
  : { type: 'better-sqlite3' as const, database: process.env.SQLITE_FILE ?? ':memory:' };

@Module({
  imports: [
    PresenceModule.forRoot({
      database,
      tableName: process.env.PRESENCE_TABLE,
      socketcluster: { authKey: process.env.AUTH_KEY },
    }),
  ],
  providers: [OnlineLog],
  controllers: [PresenceController],
})
export class AppModule {}
