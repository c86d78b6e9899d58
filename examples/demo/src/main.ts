import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';

/**
 * `npm start`: the demo on embedded SQLite at http://127.0.0.1:8000/. Environment: PORT (0 picks a free port),
 * HOST (default 127.0.0.1), DATABASE_URL (mysql://… or mariadb://…), AUTH_KEY, SCC_STATE_SERVER_HOST /
 * SCC_STATE_SERVER_PORT / SCC_AUTH_KEY, DEMO_IDLE_AFTER_MS.
 */
async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule.fromEnv(process.env));
  app.enableShutdownHooks();
  const port = Number(process.env.PORT ?? 8000);
  await app.listen(Number.isInteger(port) && port >= 0 ? port : 8000, process.env.HOST || '127.0.0.1');
  const url = `${(await app.getUrl()).replace('[::1]', 'localhost')}/`;
  Logger.log(`who is online: open ${url}`, 'Demo');
}

bootstrap().catch((error: unknown) => {
  Logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error), undefined, 'Demo');
  process.exit(1);
});
