import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppModule } from '../../examples/demo/src/app.module.js';
import { PresenceService } from '../../src/index.js';
import { connectClient } from '../support/clients.js';

/**
 * The demo page (`npm start`) in headless Chromium: three people in three browser contexts see each other come
 * online, go idle (by the button and by the idle monitor), come back after a reconnect, and go offline, with the
 * user count following; users signing in (in two windows each) always see their own row online, even when the
 * page's status read arrives after the live event; a client publish on the page's channels is refused. Needs
 * Debian's Chromium (`apt-get install chromium`); without it the file is skipped.
 * Writes test-results/demo.png, and docs/demo.png (the README's) when that is missing or DEMO_SCREENSHOT=1.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WAIT = { timeout: 15_000 };

if (!hasChromium) {
  console.warn(`test/browser/demo.test.ts skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);
}

interface Person {
  name: string;
  context: BrowserContext;
  page: Page;
  errors: string[];
}

/** Answers of the page's status reads held back in flight (see `holdStatusReads`). */
interface HeldReads {
  held: number;
  delivered: number;
}

/**
 * Records in `window.ownRowStates` every status the page's own row in People shows, in order (a string, so that
 * the test runner leaves it alone: it runs in the page).
 */
const RECORD_OWN_ROW = `
  window.ownRowStates = [];
  new MutationObserver(() => {
    const me = document.getElementById('me-name')?.textContent;
    const row = me ? document.querySelector('#people li[data-user="' + CSS.escape(me) + '"]') : null;
    const states = window.ownRowStates;
    if (row && states[states.length - 1] !== row.dataset.status) states.push(row.dataset.status);
  }).observe(document, { subtree: true, childList: true, attributes: true });
`;

/** The HTTP reads of user statuses, i.e. the snapshots the page merges with the live events. */
const STATUS_READS = /\/(demo\/users|presence\/users\/[^/?]+)$/;

describe.skipIf(!hasChromium)(`demo page in headless Chromium${hasChromium ? '' : ` (skipped: no Chromium at ${CHROMIUM})`}`, () => {
  let app: INestApplication;
  let url: string;
  let browser: Browser;
  const people: Person[] = [];

  /** The demo app on a free port, on embedded SQLite. */
  async function startDemo(flushIntervalMs: number): Promise<{ app: INestApplication; url: string }> {
    const moduleRef = await Test.createTestingModule({
      imports: [
        AppModule.fromEnv(
          { AUTH_KEY: 'demo-browser-test-key' },
          {
            tableName: `demo_${process.pid}`,
            flushIntervalMs,
            offlineGraceMs: 300,
            usercount: { startupQuietMs: 0, connectDelayMs: 100 },
          },
        ),
      ],
    }).compile();
    const started = moduleRef.createNestApplication({ logger: process.env.PRESENCE_TEST_LOGS ? undefined : false });
    await started.listen(0, '127.0.0.1');
    return { app: started, url: `http://127.0.0.1:${(started.getHttpServer().address() as AddressInfo).port}/` };
  }

  beforeAll(async () => {
    ({ app, url } = await startDemo(5));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  /** A page of `context`, its console errors recorded on `person` (a second window of the same person too). */
  async function openPage(context: BrowserContext, name: string, errors: string[], query = '', base = url): Promise<Page> {
    const page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(`${name}: console: ${message.text()}`);
    });
    page.on('pageerror', (error) => errors.push(`${name}: page error: ${error.message}`));
    await page.goto(base + query);
    return page;
  }

  /**
   * The server answers the page's status reads at once, and the answer reaches the page only once `stored`
   * holds and the live event has had 300 ms to arrive, as on a slow network: read before the sign-in was stored,
   * it is older than the live event that came first.
   */
  async function holdStatusReads(context: BrowserContext, stored: () => Promise<boolean>): Promise<HeldReads> {
    const reads: HeldReads = { held: 0, delivered: 0 };
    await context.addInitScript(RECORD_OWN_ROW);
    await context.route(STATUS_READS, async (route) => {
      reads.held++;
      try {
        const response = await route.fetch();
        await expect.poll(stored, WAIT).toBe(true);
        await new Promise((resolve) => setTimeout(resolve, 300));
        await route.fulfill({ response });
      } finally {
        reads.held--;
        reads.delivered++;
      }
    });
    return reads;
  }

  async function signIn(
    name: string,
    query = '',
    options: { holdReadsUntil?: () => Promise<boolean>; base?: string } = {},
  ): Promise<Person & { reads?: HeldReads }> {
    const context = await browser.newContext({ viewport: { width: 1200, height: 800 }, deviceScaleFactor: 1, colorScheme: 'light' });
    const reads = options.holdReadsUntil ? await holdStatusReads(context, options.holdReadsUntil) : undefined;
    const errors: string[] = [];
    const page = await openPage(context, name, errors, query, options.base);
    const person = { name, context, page, errors, reads };
    people.push(person);
    await page.locator('#name').fill(name);
    await page.locator('#sign-in').click();
    await page.locator('#app-view').waitFor({ state: 'visible', ...WAIT });
    await expect.poll(() => page.locator('#you-name').textContent(), WAIT).toBe(name);
    return person;
  }

  /** Waits until `viewer` lists `name` with `status` in the people card. */
  async function sees(viewer: Person, name: string, status: 'online' | 'idle' | 'offline'): Promise<void> {
    await viewer.page.locator(`#people li[data-user="${name}"][data-status="${status}"]`).waitFor(WAIT);
  }

  /** Input on the page, so that the idle monitor counts the person as there (a slow run may outlast 10 s). */
  async function nudge(person: Person): Promise<void> {
    await person.page.mouse.move(600 + Math.round(Math.random() * 100), 60);
    await expect.poll(() => person.page.locator('#idle-toggle').textContent(), WAIT).toBe('Go idle');
  }

  /**
   * The page's own row says "(you)" and online once the live event is in, and still does after every held
   * status read has been delivered; once online, it never showed anything else.
   */
  async function ownRowOnline(page: Page, name: string, reads: HeldReads): Promise<void> {
    const row = page.locator(`#people li[data-user="${name}"]`);
    await page.locator(`#people li[data-user="${name}"][data-status="online"]`).waitFor(WAIT);
    await expect.poll(() => reads.delivered > 0 && reads.held === 0, WAIT).toBe(true);
    await page.waitForTimeout(100);
    expect([await row.getAttribute('data-status'), await row.locator('.person-you').textContent(), await row.locator('.person-detail').textContent()]).toEqual([
      'online',
      '(you)',
      expect.stringMatching(/^online/),
    ]);
    const states = (await page.evaluate('window.ownRowStates')) as string[];
    expect(states.slice(states.indexOf('online'))).toEqual(['online']);
  }

  async function count(viewer: Person): Promise<string | null> {
    return viewer.page.locator('#count').textContent();
  }

  async function api<T>(path: string): Promise<{ status: number; body: T }> {
    const response = await fetch(new URL(path, url));
    return { status: response.status, body: (await response.json()) as T };
  }

  it('shows who is online, idle and offline, live, in several browsers', { timeout: 120_000 }, async () => {
    const ada = await signIn('Ada');
    const grace = await signIn('Grace');
    // Linus's tab goes idle after 2 s without input: the idle monitor of the client helper.
    const linus = await signIn('Linus', '?idle=2');

    // Everyone sees everyone; the count (users) follows.
    await sees(ada, 'Grace', 'online');
    await sees(grace, 'Ada', 'online');
    await expect.poll(() => count(grace), WAIT).toBe('3');
    await expect.poll(() => count(ada), WAIT).toBe('3');
    // Everyone is in the lobby.
    for (const name of ['Ada', 'Grace', 'Linus']) {
      await grace.page.locator(`.room[data-room="lobby"] .member[data-user="${name}"]`).waitFor(WAIT);
    }

    // The idle monitor: Linus stops touching his page.
    await sees(grace, 'Linus', 'idle');
    await expect.poll(() => linus.page.locator('#you-label').textContent(), WAIT).toMatch(/^Idle/);

    // The button: Ada goes idle, the others see it, also in the room and the event log.
    await nudge(ada);
    await ada.page.locator('#idle-toggle').click();
    await sees(grace, 'Ada', 'idle');
    await grace.page.locator('.room[data-room="lobby"] .member[data-user="Ada"][data-status="idle"]').waitFor(WAIT);
    await expect.poll(() => grace.page.locator('#log').textContent(), WAIT).toContain('Ada is idle');
    await expect.poll(() => ada.page.locator('#idle-toggle').textContent(), WAIT).toBe('Back online');

    // A reconnect: a new socket, and the helper restores idle on it.
    const presence = app.get(PresenceService);
    const [before] = await presence.getUserSessions('Ada');
    await ada.page.locator('#reconnect').click();
    await expect
      .poll(async () => (await presence.getUserSessions('Ada')).map((s) => [s.socketId === before.socketId ? 'old' : 'new', s.status].join(' ')), WAIT)
      .toEqual(['new idle']);
    await expect.poll(() => ada.page.locator('#connection').getAttribute('data-state'), WAIT).toBe('open');
    await sees(grace, 'Ada', 'idle');

    // Back online by the button; Ada's own view of the lobby followed her across the reconnect.
    await ada.page.locator('#idle-toggle').click();
    await sees(grace, 'Ada', 'online');
    await ada.page.locator('.room[data-room="lobby"] .member[data-user="Ada"][data-status="online"]').waitFor(WAIT);
    await ada.page.locator('.room[data-room="lobby"] .member[data-user="Linus"][data-status="idle"]').waitFor(WAIT);
    // (The log's notes are the page's own failures.)
    expect(await ada.page.locator('#log li[data-kind="note"]').allTextContents()).toEqual([]);

    // Ada closes her browser: offline for the others, with "last seen"; the count drops.
    await ada.context.close();
    await sees(grace, 'Ada', 'offline');
    await sees(linus, 'Ada', 'offline');
    await expect.poll(() => grace.page.locator('#people li[data-user="Ada"] .person-detail').textContent(), WAIT).toMatch(/^last seen /);
    await expect.poll(() => count(grace), WAIT).toBe('2');
    await grace.page.locator('.room[data-room="lobby"] .member[data-user="Ada"]').waitFor({ state: 'detached', ...WAIT });

    // The count type can be switched; the three counts come from the HTTP API.
    await grace.page.locator('#count-types button[data-type="sockets"]').click();
    await expect.poll(() => count(grace), WAIT).toBe('2');
    await grace.page.locator('#count-types button[data-type="subscriptions"]').click();
    const subscriptions = await api<{ count: number }>('/presence/count?type=subscriptions');
    await expect.poll(() => count(grace), WAIT).toBe(String(subscriptions.body.count));
    await grace.page.locator('#count-types button[data-type="users"]').click();

    // Grace joins a second room.
    await grace.page.locator('#room-name').fill('design');
    await grace.page.locator('#join').click();
    await grace.page.locator('.room[data-room="design"] .member[data-user="Grace"]').waitFor(WAIT);

    // The HTTP API agrees with the page.
    expect((await api('/presence/users/Ada')).body).toMatchObject({ userId: 'Ada', status: 'offline', lastSeen: expect.any(String) });
    expect((await api('/presence/users/Linus')).body).toMatchObject({ userId: 'Linus', status: 'idle' });
    await nudge(grace);
    await expect.poll(async () => (await api('/presence/channels/room%3Alobby/members')).body, WAIT).toEqual({
      channel: 'room:lobby',
      members: [
        { userId: 'Grace', status: 'online' },
        { userId: 'Linus', status: 'idle' },
      ],
      anonymous: 0,
    });
    expect((await api('/presence/count?type=users')).body).toEqual({ type: 'users', count: 2 });

    // Neither the page nor the API shows IP addresses, Origins or auth tokens.
    const token = await grace.page.evaluate(() =>
      Object.entries(localStorage).find(([key]) => key.startsWith('socketcluster.authToken'))?.[1],
    );
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const events = JSON.stringify((await api('/demo/events')).body);
    expect(events).toContain('user.idle');
    for (const text of [await grace.page.locator('body').innerText(), events, JSON.stringify((await api('/demo/users')).body)]) {
      expect(text).not.toContain('127.0.0.1');
      expect(text).not.toContain(url.slice(0, -1));
      expect(text).not.toContain(token as string);
      expect(text).not.toMatch(/"(ip|origin|authToken)"/);
    }

    // The picture for the README: Grace's page, with someone online, idle and offline.
    await nudge(grace);
    await expect.poll(() => grace.page.locator('#you-label').textContent(), WAIT).toBe('Online');
    mkdirSync(join(ROOT, 'test-results'), { recursive: true });
    const png = await grace.page.screenshot({ path: join(ROOT, 'test-results', 'demo.png') });
    const docs = join(ROOT, 'docs', 'demo.png');
    if (process.env.DEMO_SCREENSHOT === '1' || !existsSync(docs)) {
      mkdirSync(dirname(docs), { recursive: true });
      await grace.page.screenshot({ path: docs });
    }
    expect(png.length).toBeGreaterThan(10_000);

    for (const person of [grace, linus]) {
      expect(await person.page.locator('#log li[data-kind="note"]').allTextContents()).toEqual([]);
    }
    expect(people.flatMap((p) => p.errors)).toEqual([]);
  });

  it('shows each user their own row online after signing in, in a second window too', { timeout: 120_000 }, async () => {
    // An app of its own whose flush window (1 s) makes sure that the page's first status read is answered
    // before its sign-in is stored.
    const slow = await startDemo(1000);
    const slowPresence = slow.app.get(PresenceService);
    const signedIn: Person[] = [];
    try {
      for (const name of ['Hedy', 'Alan', 'Barbara', 'Edsger']) {
        // (No idle monitor in the way: these tabs go idle after 10 minutes without input.)
        const stored = async () => (await slowPresence.getUserStatus(name)) === 'online';
        const person = await signIn(name, '?idle=600', { holdReadsUntil: stored, base: slow.url });
        signedIn.push(person);
        await ownRowOnline(person.page, name, person.reads!);
        // A second window of the same browser: signed in by the stored token, it loads its snapshot on connect.
        const reads = person.reads!;
        reads.delivered = 0;
        const second = await openPage(person.context, name, person.errors, '?idle=600', slow.url);
        await second.locator('#app-view').waitFor({ state: 'visible', ...WAIT });
        await ownRowOnline(second, name, reads);
        // Everyone signed in so far is online in the newest window.
        for (const other of signedIn) await second.locator(`#people li[data-user="${other.name}"][data-status="online"]`).waitFor(WAIT);
      }
      for (const person of signedIn) {
        expect(await person.page.locator('#log li[data-kind="note"]').allTextContents()).toEqual([]);
        await person.context.close();
      }
    } finally {
      await slow.app.close();
    }
    expect(signedIn.flatMap((p) => p.errors)).toEqual([]);
  });

  it('shows session states in the rooms and follows watched people', { timeout: 90_000 }, async () => {
    const margaret = await signIn('Margaret');
    const katherine = await signIn('Katherine');
    const pill = (name: string) => katherine.page.locator(`.room[data-room="lobby"] .member[data-user="${name}"]`);
    // Every tab tells the rooms its device (session state), with presenceClient.setState().
    await expect.poll(() => pill('Margaret').locator('.member-state').textContent(), WAIT).toBe('desktop');

    // Katherine watches Margaret and someone never seen, with presenceClient.users().
    for (const name of ['Margaret', 'Nobody']) {
      await katherine.page.locator('#watch-name').fill(name);
      await katherine.page.locator('#watch').click();
    }
    await katherine.page.locator('#watching li[data-user="Margaret"][data-status="online"]').waitFor(WAIT);
    await expect.poll(() => katherine.page.locator('#watching li[data-user="Nobody"] .person-detail').textContent(), WAIT).toBe('never seen');

    // Margaret types a note: the room shows her typing, then the note.
    await margaret.page.locator('#note').pressSequentially('writing the docs', { delay: 40 });
    await pill('Margaret').and(katherine.page.locator('[data-typing="true"]')).waitFor(WAIT);
    await expect.poll(() => pill('Margaret').locator('.member-note').textContent(), WAIT).toBe('writing the docs');
    await pill('Margaret').and(katherine.page.locator('[data-typing="false"]')).waitFor(WAIT);

    // A reconnect keeps the state: the helper sends it again.
    await margaret.page.locator('#reconnect').click();
    await expect.poll(() => margaret.page.locator('#connection').getAttribute('data-state'), WAIT).toBe('open');
    await katherine.page.waitForTimeout(500);
    await expect.poll(() => pill('Margaret').locator('.member-note').textContent(), WAIT).toBe('writing the docs');

    // Margaret goes idle and then away: Katherine's watched list follows.
    await margaret.page.locator('#idle-toggle').click();
    await katherine.page.locator('#watching li[data-user="Margaret"][data-status="idle"]').waitFor(WAIT);
    await margaret.context.close();
    await katherine.page.locator('#watching li[data-user="Margaret"][data-status="offline"]').waitFor(WAIT);
    await expect.poll(() => katherine.page.locator('#watching li[data-user="Margaret"] .person-detail').textContent(), WAIT).toMatch(/^last seen/);
    await pill('Margaret').waitFor({ state: 'detached', ...WAIT });

    // The watched list survives a reload (localStorage), and stopping to watch someone removes the row.
    await katherine.page.reload();
    await katherine.page.locator('#watching li[data-user="Nobody"]').waitFor(WAIT);
    await katherine.page.locator('#watching li[data-user="Nobody"] button.remove').click();
    await katherine.page.locator('#watching li[data-user="Nobody"]').waitFor({ state: 'detached', ...WAIT });
    expect(await katherine.page.locator('#log li[data-kind="note"]').allTextContents()).toEqual([]);
    expect([...margaret.errors, ...katherine.errors]).toEqual([]);
  });

  it('lets no client publish: a forged event on demo:events reaches neither the log nor the user list', { timeout: 60_000 }, async () => {
    const mallory = await signIn('Mallory');
    const presence = app.get(PresenceService);
    const port = (app.getHttpServer().address() as AddressInfo).port;
    // Eve, signed in with a valid token, tries to tell everyone that Mallory went offline.
    const eve = await connectClient(port, presence.server, { token: { user_id: 'Eve', name: 'Eve' } });
    const forged = { type: 'user.offline', userId: 'Mallory', status: 'offline', previousStatus: 'online', reason: 'disconnect', at: new Date().toISOString() };
    try {
      await expect(eve.invokePublish('demo:events', forged)).rejects.toThrow(/publish/i);
      await expect(eve.invokePublish('room:lobby', 'hello')).rejects.toThrow(/publish/i);
      for (let i = 0; i < 20; i++) eve.transmitPublish('demo:events', { ...forged, at: new Date().toISOString() });
      // A real event after the forged ones: once it is in the log, anything published before it would be too.
      await expect.poll(async () => JSON.stringify((await api('/demo/events')).body), WAIT).toContain('"userId":"Eve"');
    } finally {
      eve.disconnect();
    }
    const { body } = await api<{ events: Array<{ type: string; userId?: string }> }>('/demo/events');
    expect(body.events.filter((e) => e.userId === 'Mallory').map((e) => e.type)).not.toContain('user.offline');
    expect((await api<{ users: Array<{ userId: string; status: string }> }>('/demo/users')).body.users).toContainEqual(
      expect.objectContaining({ userId: 'Mallory', status: 'online' }),
    );
    await mallory.page.locator('#log li', { hasText: 'Eve is online' }).waitFor(WAIT);
    expect(await mallory.page.locator('#log').textContent()).not.toContain('Mallory went offline');
    expect(await mallory.page.locator('#people li[data-user="Mallory"]').getAttribute('data-status')).toBe('online');
    await mallory.context.close();
    expect(mallory.errors).toEqual([]);
  });

  it('refuses bad names on the page and bad input in the API', { timeout: 60_000 }, async () => {
    const context = await browser.newContext({ viewport: { width: 420, height: 800 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(url);
    await page.locator('#name').fill('x'.repeat(33));
    await page.locator('#sign-in').click();
    await expect.poll(() => page.locator('#sign-in-error').textContent(), WAIT).toMatch(/at most 32 characters/);
    await page.locator('#name').fill('   ');
    await page.locator('#sign-in').click();
    await expect.poll(() => page.locator('#sign-in-error').textContent(), WAIT).toMatch(/must not be empty/);
    // The server checks too: a client that skips the page's check is refused.
    // (A string, so that the test runner leaves the dynamic import alone.)
    const refused = await page.evaluate(`(async () => {
      const { create } = await import('socketcluster-client');
      const socket = create();
      try {
        await socket.invoke('demo.login', 'bad\\u0007name');
        return 'accepted';
      } catch (error) {
        return error.name + ': ' + error.message;
      } finally {
        socket.disconnect();
      }
    })()`);
    expect(refused).toBe('LoginError: a name must not contain control characters');
    expect(await page.locator('#app-view').isHidden()).toBe(true);
    await context.close();
    expect(errors).toEqual([]);

    expect(await api('/presence/count?type=rooms')).toEqual({
      status: 400,
      body: { statusCode: 400, error: 'Bad Request', message: 'type must be one of users, sockets, subscriptions' },
    });
    expect((await api(`/presence/users/${'u'.repeat(256)}`)).status).toBe(400);
    expect((await api(`/presence/channels/${'c'.repeat(256)}/members`)).status).toBe(400);
    expect((await api('/presence/channels/_SCPRESENCE/members')).status).toBe(400);
    expect((await api('/presence/users/nobody')).body).toEqual({ userId: 'nobody', status: 'offline', since: null, lastSeen: null });
    expect((await api('/presence/nothing-here')).status).toBe(404);
    expect((await api('/assets/main.js')).status).toBe(404);
  });
});
