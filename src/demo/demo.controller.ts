import { Controller, Get, Header } from '@nestjs/common';
import { PresenceService } from '../index.js';

@Controller()
export class DemoController {
  constructor(private readonly presence: PresenceService) {}

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  async index(): Promise<string> {
    const [users, sockets] = await Promise.all([this.presence.count('users'), this.presence.count('sockets')]);
    return `<!doctype html><title>nestjs-sc-presence</title><h1>nestjs-sc-presence</h1>
<p>${users} users online on ${sockets} sockets. SocketCluster endpoint: <code>/socketcluster/</code></p>`;
  }
}
