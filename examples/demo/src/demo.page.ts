import { createHash } from 'node:crypto';
import type { DemoConfig } from './demo.config.js';

/** The page's only inline script is the import map (see `loadDemoAssets`): the Content-Security-Policy allows it by its hash. */
export function contentSecurityPolicy(importMap: string): string {
  const importMapHash = createHash('sha256').update(importMap).digest('base64');
  return [
    "default-src 'self'",
    `script-src 'self' 'sha256-${importMapHash}'`,
    "connect-src 'self' ws: wss:",
    "style-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** The page; `importMap` maps the bare imports of its modules to the URLs the app serves them at. */
export function renderPage(config: DemoConfig, importMap: string): string {
  const idleSeconds = Math.round(config.idleAfterMs / 1000);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Who is online · nestjs-sc-presence</title>
<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/style.css">
<script type="importmap">${importMap}</script>
<script type="module" src="/assets/app/browser/app.js"></script>
</head>
<body data-idle-after-ms="${config.idleAfterMs}" data-usercount-channel="${escapeAttribute(config.usercountChannel)}">
<header class="topbar">
  <div class="brand"><span class="brand-mark" aria-hidden="true"></span><span>Who is online</span><span class="brand-sub">nestjs-sc-presence demo</span></div>
  <div class="topbar-right">
    <span class="connection" id="connection" data-state="connecting" role="status">Connecting…</span>
    <span class="me" id="me" hidden><span class="dot" id="me-dot" data-status="online"></span><strong id="me-name"></strong><button type="button" class="link" id="sign-out">Sign out</button></span>
  </div>
</header>

<main id="sign-in-view" class="sign-in" hidden>
  <form class="card sign-in-card" id="sign-in-form" autocomplete="off" novalidate>
    <h1>Who is online</h1>
    <p class="muted">Pick a name to sign in. Open this page in a second window with another name and watch both of you come and go.</p>
    <label for="name">Your name</label>
    <div class="row">
      <input id="name" name="name" maxlength="64" placeholder="e.g. Ada" required>
      <button type="submit" class="primary" id="sign-in">Sign in</button>
    </div>
    <p class="error" id="sign-in-error" role="alert"></p>
    <p class="muted small"><span id="sign-in-count">–</span> connected right now, this window included</p>
  </form>
</main>

<main id="app-view" class="grid" hidden>
 <div class="col">
  <section class="card you" aria-labelledby="you-title">
    <h2 id="you-title">You</h2>
    <div class="you-status">
      <span class="dot big" id="you-dot" data-status="online"></span>
      <div><div class="you-name" id="you-name"></div><div class="you-label" id="you-label">Online</div></div>
    </div>
    <div class="row">
      <button type="button" class="primary" id="idle-toggle">Go idle</button>
      <button type="button" id="reconnect" title="Drop the connection and connect again: your status comes back">Reconnect</button>
    </div>
    <label class="small" for="note">What are you up to? <span class="muted">(your session state: rooms show it, and that you are typing)</span></label>
    <input id="note" maxlength="60" placeholder="e.g. reviewing the release" autocomplete="off">
    <p class="muted small" id="idle-hint">This tab goes idle after <strong id="idle-seconds">${idleSeconds} s</strong> without keyboard or mouse input, or when it is hidden. Any input brings it back online.</p>
  </section>

  <section class="card count" aria-labelledby="count-title">
    <h2 id="count-title">Connected now</h2>
    <div class="count-value"><span id="count" data-testid="count">–</span> <span class="count-unit" id="count-unit">users</span></div>
    <div class="segmented" role="radiogroup" aria-label="What to count" id="count-types">
      <button type="button" role="radio" data-type="users" aria-checked="true">Users</button>
      <button type="button" role="radio" data-type="sockets" aria-checked="false">Sockets</button>
      <button type="button" role="radio" data-type="subscriptions" aria-checked="false">Subscriptions</button>
    </div>
    <p class="muted small" id="count-explain"></p>
    <p class="muted small" id="count-note">Refreshed on every publish on <code>${escapeHtml(config.usercountChannel)}</code>.</p>
  </section>

  <section class="card watching" aria-labelledby="watching-title">
    <h2 id="watching-title">Watching</h2>
    <p class="muted small card-sub">People you follow, whether they are here or not: <code>presenceClient.users()</code>.</p>
    <form class="row" id="watch-form" autocomplete="off" novalidate>
      <input id="watch-name" maxlength="64" placeholder="A name, e.g. Grace" aria-label="Name to watch">
      <button type="submit" id="watch">Watch</button>
    </form>
    <p class="error" id="watch-error" role="alert"></p>
    <ul class="people-list" id="watching"></ul>
    <p class="empty muted small" id="watching-empty">Nobody watched yet.</p>
  </section>

 </div>
 <div class="col">
  <section class="card people" aria-labelledby="people-title">
    <h2 id="people-title">People <span class="badge" id="people-count">0</span></h2>
    <ul class="people-list" id="people"></ul>
    <p class="empty muted small" id="people-empty">Nobody yet.</p>
  </section>

  <section class="card rooms" aria-labelledby="rooms-title">
    <h2 id="rooms-title">Rooms</h2>
    <form class="row" id="join-form" autocomplete="off" novalidate>
      <input id="room-name" maxlength="40" placeholder="Room name, e.g. lobby" aria-label="Room name">
      <button type="submit" id="join">Join</button>
    </form>
    <p class="error" id="room-error" role="alert"></p>
    <div class="rooms-list" id="rooms"></div>
    <p class="empty muted small" id="rooms-empty">Join a room to see who is in it.</p>
  </section>

 </div>
 <div class="col">
  <section class="card log" aria-labelledby="log-title">
    <h2 id="log-title">Event log</h2>
    <p class="muted small card-sub">The module's hooks as they fire, from <code>PresenceService.events$</code>.</p>
    <ol class="log-list" id="log" aria-live="polite"></ol>
  </section>
 </div>
</main>
</body>
</html>
`;
}

export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><circle cx="16" cy="16" r="12" fill="#16a34a"/><circle cx="16" cy="16" r="5" fill="#fff"/></svg>`;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const escapeAttribute = escapeHtml;
