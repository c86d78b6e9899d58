import { Controller, Get, Header, Inject, NotFoundException, Req, Res } from '@nestjs/common';
import { PresenceService } from 'nestjs-sc-presence';
import type { UserStatusResponse } from './presence-api.controller.js';
import type { Asset, DemoAssets } from './demo-assets.js';
import { DEMO_CONFIG, type DemoConfig } from './demo.config.js';
import { DemoLiveService } from './demo-live.service.js';
import type { DemoEvent } from './demo-events.js';
import { contentSecurityPolicy, renderPage } from './demo.page.js';

export const DEMO_ASSETS = Symbol('DEMO_ASSETS');

/** The little of Express's request and response used here. */
interface Request {
  path: string;
  headers: Record<string, string | string[] | undefined>;
}
interface Response {
  status(code: number): Response;
  set(headers: Record<string, string>): Response;
  send(body: string | Buffer): void;
  end(): void;
}

/** The page, its assets, and what the page reads when it opens. */
@Controller()
export class DemoController {
  private readonly page: string;
  private readonly csp: string;
  private readonly assets: Map<string, Asset>;

  constructor(
    private readonly presence: PresenceService,
    private readonly live: DemoLiveService,
    @Inject(DEMO_CONFIG) config: DemoConfig,
    @Inject(DEMO_ASSETS) assets: DemoAssets,
  ) {
    this.page = renderPage(config, assets.importMap);
    this.csp = contentSecurityPolicy(assets.importMap);
    this.assets = assets.files;
  }

  @Get()
  index(@Res() res: Response): void {
    res
      .status(200)
      .set({
        'Content-Type': 'text/html; charset=utf-8',
        'Content-Security-Policy': this.csp,
        'Cache-Control': 'no-cache',
        'X-Content-Type-Options': 'nosniff',
        'Referrer-Policy': 'no-referrer',
      })
      .send(this.page);
  }

  @Get('assets/*path')
  asset(@Req() req: Request, @Res() res: Response): void {
    const asset = this.assets.get(req.path);
    if (!asset) throw new NotFoundException(`Cannot GET ${req.path}`);
    res.set({ 'Content-Type': asset.contentType, ETag: asset.etag, 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' });
    if (req.headers['if-none-match'] === asset.etag) {
      res.status(304).end();
      return;
    }
    res.status(200).send(asset.body);
  }

  /** The users seen lately with their status, for the page's list (the most recently active first). */
  @Get('demo/users')
  @Header('Cache-Control', 'no-store')
  async users(): Promise<{ users: UserStatusResponse[] }> {
    const ids = this.live.knownUsers();
    const details = ids.length ? await this.presence.getUserStatusDetails(ids) : {};
    return {
      users: ids.map((userId) => ({
        userId,
        status: details[userId].status,
        since: details[userId].since?.toISOString() ?? null,
        lastSeen: details[userId].lastSeen?.toISOString() ?? null,
      })),
    };
  }

  /** The last presence events, oldest first, as published on `demo:events`. */
  @Get('demo/events')
  @Header('Cache-Control', 'no-store')
  events(): { events: DemoEvent[] } {
    return { events: this.live.recentEvents() };
  }
}
