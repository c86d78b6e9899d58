import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule);
  app.enableShutdownHooks();
  const port = Number(process.env.PORT ?? 8000);
  await app.listen(port, process.env.HOST ?? '127.0.0.1');
  Logger.log(`demo running at ${await app.getUrl()}/`, 'Demo');
}

void bootstrap();
