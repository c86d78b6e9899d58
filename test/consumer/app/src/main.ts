import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import { AppModule } from './app.module.js';

// No top-level await: the same file compiles as CommonJS (require(esm) of Nest and of the module) and as ESM.
async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  app.enableShutdownHooks();
  await app.listen(0, '127.0.0.1');
  console.log(`listening on ${(app.getHttpServer().address() as AddressInfo).port}`);
}

bootstrap().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
