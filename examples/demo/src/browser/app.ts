/**
 * The "who is online" page. Runs in the browser as an ES module served by the demo app; `socketcluster-client`
 * resolves through the page's import map to the client's own browser bundle.
 */
import { create } from 'socketcluster-client';
import {
  createPresenceClient, type ChannelFollower, type EventTargetLike, type ListenerOptionsLike, type Member, type UsersFollower,
  type WatchedUsers,
} from 'nestjs-sc-presence/client';
import { EVENTS_CHANNEL, LOGIN_PROCEDURE, PRESENCE_PREFIX, ROOM_PREFIX } from '../demo.constants.js';
import { parseDemoEvent, type DemoEvent } from '../demo-events.js';
import { checkName, ROOM_NAME } from '../demo-names.js';

type UserStatus = 'online' | 'idle' | 'offline';
type CountType = 'users' | 'sockets' | 'subscriptions';

interface UserDetails {
  userId: string;
  status: UserStatus;
  since: string | null;
  lastSeen: string | null;
}

/** A room joined: the helper following who is in it. */
interface RoomState {
  members: ChannelFollower;
}

const COUNT_TYPES: readonly CountType[] = ['users', 'sockets', 'subscriptions'];
/** What each count counts: a window that is not signed in is a user of its own (usercount type 'users'). */
const COUNT_MEANING: Record<CountType, string> = {
  users: 'Each signed-in person once, and each window that is not signed in as one more.',
  sockets: 'Every open connection: one per window, signed in or not.',
  subscriptions: 'Every channel subscription of every open window.',
};
const MAX_LOG = 60;
const ROOMS_KEY = 'who-is-online.rooms';
const WATCHING_KEY = 'who-is-online.watching';
const MAX_WATCHING = 20;
/** "Typing" lasts this long after the last key in the note field. */
const TYPING_MS = 1500;
/** What this tab tells the rooms it is on: a phone or tablet has a coarse pointer. */
const DEVICE = matchMedia('(pointer: coarse)').matches ? 'phone' : 'desktop';
const COUNT_TYPE_KEY = 'who-is-online.count-type';
/** After "Go idle", input is ignored this long, so the click itself (and the hand leaving the mouse) does not undo it. */
const IDLE_BUTTON_QUIET_MS = 1500;

const body = document.body;
/** The server's setting, or `?idle=<seconds>` in the address to try another. */
const idleAfterMs = idleSetting();
const usercountChannel = body.dataset.usercountChannel || 'USERCOUNT';

function idleSetting(): number {
  const asked = Number(new URLSearchParams(location.search).get('idle'));
  if (Number.isFinite(asked) && asked >= 1 && asked <= 3600) return Math.round(asked * 1000);
  return Number(body.dataset.idleAfterMs) || 10_000;
}

function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing`);
  return element as T;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

// ---------------------------------------------------------------------------------------------------------------
// Socket and presence helper

const socket = create({ autoReconnectOptions: { initialDelay: 1000, randomness: 1000, maxDelay: 5000 } });

/**
 * The idle monitor listens on `window` through this wrapper, which drops input for a moment after the "Go idle"
 * button: otherwise the click, or the mouse moving on, would bring the tab back online at once.
 */
let ignoreInputUntil = 0;
const wrappers = new Map<string, Map<(event: unknown) => void, (event: Event) => void>>();
const idleTarget: EventTargetLike = {
  addEventListener(type, listener, options?: ListenerOptionsLike | boolean) {
    const wrapped = (event: Event) => {
      if (Date.now() >= ignoreInputUntil) listener(event);
    };
    if (!wrappers.has(type)) wrappers.set(type, new Map());
    wrappers.get(type)!.set(listener, wrapped);
    window.addEventListener(type, wrapped, options);
  },
  removeEventListener(type, listener, options?: ListenerOptionsLike | boolean) {
    const wrapped = wrappers.get(type)?.get(listener);
    if (!wrapped) return;
    wrappers.get(type)!.delete(listener);
    window.removeEventListener(type, wrapped, options);
  },
};

const presence = createPresenceClient(socket, {
  idleAfterMs,
  target: idleTarget,
  document,
  onError: (error) => addLocalNote(`could not send your status: ${error.message}`),
  onStatusChange: () => renderYou(),
});

// ---------------------------------------------------------------------------------------------------------------
// State

let me: string | null = null;
let ready = false;
const users = new Map<string, UserDetails>();
/**
 * When what `users` holds about each user happened (ms, server time): the `at` of a live event, the `since` of
 * an HTTP answer. An answer to a request that the server read before a status change commits arrives after that
 * change's live event; it is older, and must not overwrite it.
 */
const userVersions = new Map<string, number>();
const rooms = new Map<string, RoomState>();
let countType: CountType = readCountType();
const counts: Partial<Record<CountType, number>> = {};
const seenEvents = new Set<string>();

function readCountType(): CountType {
  const stored = localStorage.getItem(COUNT_TYPE_KEY);
  return COUNT_TYPES.includes(stored as CountType) ? (stored as CountType) : 'users';
}

function storedRooms(): string[] {
  try {
    const value: unknown = JSON.parse(localStorage.getItem(ROOMS_KEY) ?? '["lobby"]');
    return Array.isArray(value) ? value.filter((r): r is string => typeof r === 'string' && ROOM_NAME.test(r)).slice(0, 20) : ['lobby'];
  } catch {
    return ['lobby'];
  }
}

function saveRooms(): void {
  localStorage.setItem(ROOMS_KEY, JSON.stringify([...rooms.keys()]));
}

async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(path, { headers: { Accept: 'application/json' }, cache: 'no-store' });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return (await response.json()) as T;
}

/** Runs `task` at most once per `ms`, at the end of a burst of calls. */
function debounce(task: () => void, ms: number): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      task();
    }, ms);
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Time formatting

function ago(iso: string | null): string {
  if (!iso) return '';
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 10) return 'just now';
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  return new Date(iso).toLocaleDateString();
}

function forHowLong(iso: string | null): string {
  if (!iso) return '';
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  return minutes < 60 ? `${minutes} min` : `${Math.round(minutes / 60)} h`;
}

function clock(iso: string): string {
  return new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

// ---------------------------------------------------------------------------------------------------------------
// Views

const views = { signIn: $('sign-in-view'), app: $('app-view') };

function showView(): void {
  const signedIn = me !== null;
  // Until the first connection answers, it is not known whether a stored token signs this page in.
  views.app.hidden = !ready || !signedIn;
  views.signIn.hidden = !ready || signedIn;
  $('me').hidden = !signedIn;
  if (signedIn) {
    $('me-name').textContent = me;
    $('you-name').textContent = me;
  } else if (ready) {
    $<HTMLInputElement>('name').focus();
  }
  renderUsers();
  renderYou();
}

function renderConnection(): void {
  const connection = $('connection');
  const state = socket.state;
  connection.dataset.state = state;
  connection.textContent = state === 'open' ? 'Connected' : state === 'connecting' ? 'Connecting…' : 'Offline, reconnecting…';
}

/** This tab's status as the helper wants it stored, and the user's status over all their tabs. */
function renderYou(): void {
  const tab = presence.status;
  const user = me ? users.get(me)?.status : undefined;
  for (const dot of [$('you-dot'), $('me-dot')]) dot.dataset.status = tab;
  const label = $('you-label');
  label.textContent =
    tab === 'idle'
      ? user === 'online'
        ? 'Idle in this tab (online in another)'
        : 'Idle: any input brings you back'
      : 'Online';
  const toggle = $<HTMLButtonElement>('idle-toggle');
  toggle.textContent = tab === 'idle' ? 'Back online' : 'Go idle';
  toggle.dataset.status = tab;
}

const STATUS_ORDER: Record<UserStatus, number> = { online: 0, idle: 1, offline: 2 };

function personDetail(user: UserDetails): string {
  const fresh = !user.since || Date.now() - Date.parse(user.since) < 5000;
  if (user.status === 'online') return fresh ? 'online' : `online for ${forHowLong(user.since)}`;
  if (user.status === 'idle') return fresh ? 'idle' : `idle for ${forHowLong(user.since)}`;
  const seen = user.lastSeen ?? user.since;
  return seen ? `last seen ${ago(seen)}` : 'offline';
}

function renderUsers(): void {
  const list = $('people');
  const sorted = [...users.values()].sort(
    (a, b) =>
      Number(b.userId === me) - Number(a.userId === me) ||
      STATUS_ORDER[a.status] - STATUS_ORDER[b.status] ||
      a.userId.localeCompare(b.userId),
  );
  list.replaceChildren(
    ...sorted.map((user) => {
      const item = el('li', 'person');
      item.dataset.user = user.userId;
      item.dataset.status = user.status;
      const dot = el('span', 'dot');
      dot.dataset.status = user.status;
      dot.title = user.status;
      const name = el('span', 'person-name', user.userId);
      item.append(dot, name);
      if (user.userId === me) item.append(el('span', 'person-you', '(you)'));
      item.append(el('span', 'person-detail', personDetail(user)));
      return item;
    }),
  );
  $('people-count').textContent = String([...users.values()].filter((u) => u.status !== 'offline').length);
  $('people-empty').hidden = users.size > 0;
}

function renderRooms(): void {
  const container = $('rooms');
  container.replaceChildren(
    ...[...rooms.entries()].map(([room, state]) => {
      const card = el('div', 'room');
      card.dataset.room = room;
      const head = el('div', 'room-head');
      head.append(el('span', 'room-name', room));
      const view = state.members.latest;
      head.append(el('span', 'badge', String(view?.members.length ?? 0)));
      const leave = el('button', 'small', 'Leave');
      leave.type = 'button';
      leave.addEventListener('click', () => leaveRoom(room));
      head.append(leave);
      card.append(head);
      if (!view) {
        card.append(el('p', 'muted', 'Joining…'));
      } else if (view.members.length === 0) {
        card.append(el('p', 'muted', 'Nobody here.'));
      } else {
        const members = el('ul', 'members');
        const sorted = [...view.members].sort(
          (a: Member, b: Member) => STATUS_ORDER[a.status] - STATUS_ORDER[b.status] || a.userId.localeCompare(b.userId),
        );
        for (const member of sorted) {
          const { userId, status } = member;
          const item = el('li', 'member');
          item.dataset.user = userId;
          item.dataset.status = status;
          const dot = el('span', 'dot');
          dot.dataset.status = status;
          dot.title = status;
          item.append(dot, el('span', '', userId));
          const shown = sessionStates(member);
          item.dataset.typing = String(shown.typing);
          const extra = [...shown.devices, ...(shown.typing ? ['typing…'] : [])].join(' · ');
          if (extra) item.append(el('span', 'member-state', extra));
          if (shown.notes.length > 0) {
            const said = el('span', 'member-note', shown.notes.join(' / '));
            said.title = said.textContent ?? '';
            item.append(said);
          }
          members.append(item);
        }
        card.append(members);
      }
      return card;
    }),
  );
  $('rooms-empty').hidden = rooms.size > 0;
}

function renderCount(): void {
  const value = counts[countType];
  $('count').textContent = value === undefined ? '–' : String(value);
  $('count-unit').textContent = value === 1 ? countType.replace(/s$/, '') : countType;
  for (const button of $('count-types').querySelectorAll<HTMLButtonElement>('button')) {
    button.setAttribute('aria-checked', String(button.dataset.type === countType));
  }
  $('count-explain').textContent = COUNT_MEANING[countType];
  $('sign-in-count').textContent = counts.users === undefined ? '–' : `${counts.users} ${counts.users === 1 ? 'user' : 'users'}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Event log

function describe(event: DemoEvent): { kind: string; label: string; text: string; reason?: string } {
  switch (event.type) {
    case 'user.online':
      return { kind: 'online', label: 'online', text: `${event.userId} is online`, reason: event.reason };
    case 'user.idle':
      return { kind: 'idle', label: 'idle', text: `${event.userId} is idle`, reason: event.reason };
    case 'user.offline':
      return { kind: 'offline', label: 'offline', text: `${event.userId} went offline`, reason: event.reason };
    case 'session.connected':
      return { kind: 'session', label: 'connected', text: event.userId ? `a session of ${event.userId} connected` : 'a visitor connected' };
    case 'session.disconnected':
      return { kind: 'session', label: 'disconnected', text: event.userId ? `a session of ${event.userId} closed` : 'a visitor left' };
    case 'cleanup':
      return {
        kind: 'cleanup',
        label: 'cleanup',
        text: event.coldStart ? 'cold start: everyone reset to offline' : `${event.sockets} sessions of a stopped instance removed`,
      };
  }
}

function addLogLine(at: string, kind: string, label: string, text: string, reason?: string): void {
  const item = el('li');
  item.dataset.kind = kind;
  const time = el('time', 'log-time', clock(at));
  time.dateTime = at;
  const type = el('span', 'log-type', label);
  type.dataset.kind = kind;
  const message = el('span', 'log-text');
  message.append(type, text);
  if (reason) message.append(' ', el('span', 'reason', `(${reason})`));
  item.append(time, message);
  item.dataset.at = at;
  const log = $('log');
  log.querySelector('.log-empty')?.remove();
  // Newest first; events loaded late (the recent ones, when the page opens) go where their time puts them.
  const after = [...log.children].find((other) => ((other as HTMLElement).dataset.at ?? '') < at);
  log.insertBefore(item, after ?? null);
  while (log.children.length > MAX_LOG) log.lastElementChild?.remove();
}

function addEvent(event: DemoEvent): void {
  const key = JSON.stringify(event);
  if (seenEvents.has(key)) return;
  seenEvents.add(key);
  if (seenEvents.size > 500) seenEvents.delete(seenEvents.values().next().value as string);
  const { kind, label, text, reason } = describe(event);
  addLogLine(event.at, kind, label, text, reason);
}

function addLocalNote(text: string): void {
  addLogLine(new Date().toISOString(), 'note', 'note', text);
}

// ---------------------------------------------------------------------------------------------------------------
// Loading from the HTTP API

/**
 * Stores what is known of a user unless something newer is there already. `asOf` is when it became true; an
 * HTTP answer about a user never seen (no `since`) is older than anything.
 */
function updateUser(user: UserDetails, asOf: number): boolean {
  const known = userVersions.get(user.userId);
  if (known !== undefined && asOf < known) return false;
  userVersions.set(user.userId, asOf);
  users.set(user.userId, user);
  return true;
}

function fromSnapshot(user: UserDetails): void {
  updateUser(user, user.since ? Date.parse(user.since) : -Infinity);
}

async function loadUsers(): Promise<void> {
  const { users: list } = await getJson<{ users: UserDetails[] }>('/demo/users');
  list.forEach(fromSnapshot);
  if (me && !list.some((user) => user.userId === me)) fromSnapshot(await getJson<UserDetails>(`/presence/users/${encodeURIComponent(me)}`));
  renderUsers();
  renderYou();
}

async function loadCounts(): Promise<void> {
  const answers = await Promise.all(COUNT_TYPES.map((type) => getJson<{ type: CountType; count: number }>(`/presence/count?type=${type}`)));
  for (const { type, count } of answers) counts[type] = count;
  renderCount();
}

async function loadEvents(): Promise<void> {
  const { events } = await getJson<{ events: unknown[] }>('/demo/events');
  for (const value of events) {
    const event = parseDemoEvent(value);
    if (event) onEvent(event);
  }
}

function report(what: string): (error: unknown) => void {
  return (error) => addLocalNote(`${what} failed: ${error instanceof Error ? error.message : String(error)}`);
}

const refreshCounts = debounce(() => void loadCounts().catch(report('loading the counts')), 120);

// ---------------------------------------------------------------------------------------------------------------
// Session state: this tab's device, its note, and whether its user is typing the note

let note = '';
let typingUntil = 0;
let typingTimer: ReturnType<typeof setTimeout> | undefined;

function myState(): Record<string, unknown> {
  const state: Record<string, unknown> = { device: DEVICE };
  if (note) state.note = note;
  if (Date.now() < typingUntil) state.typing = true;
  return state;
}

/** Sends this tab's state (the helper sends it again after a reconnect by itself). Bursts of keys cost one send. */
const sendState = debounce(() => {
  if (me) presence.setState(myState()).catch(report('setting your state'));
}, 150);

/** What a room shows of a member's sessions: their devices, whether one is typing, their notes. */
function sessionStates(member: Member): { devices: string[]; typing: boolean; notes: string[] } {
  const carried = (member as { states?: unknown }).states;
  const states: unknown[] = Array.isArray(carried) ? carried : [];
  const text = (value: unknown, max: number) => (typeof value === 'string' && value.length > 0 ? value.slice(0, max) : null);
  const devices = new Set<string>();
  const notes = new Set<string>();
  let typing = false;
  for (const state of states) {
    const s = state as Record<string, unknown>;
    const device = text(s.device, 16);
    if (device) devices.add(device);
    const said = text(s.note, 60);
    if (said) notes.add(said);
    if (s.typing === true) typing = true;
  }
  return { devices: [...devices].sort(), typing, notes: [...notes] };
}

// ---------------------------------------------------------------------------------------------------------------
// Watching: a list of people followed with the helper's users()

let watched: string[] = storedWatching();
let watching: UsersFollower | undefined;

function storedWatching(): string[] {
  try {
    const value: unknown = JSON.parse(localStorage.getItem(WATCHING_KEY) ?? '[]');
    return Array.isArray(value) ? value.filter((n): n is string => typeof n === 'string' && 'name' in checkName(n)).slice(0, MAX_WATCHING) : [];
  } catch {
    return [];
  }
}

/** Follows the watched list anew (users() takes a fixed list): the old follower unsubscribes. */
function followWatched(): void {
  watching?.close();
  watching = undefined;
  renderWatching();
  if (!me || watched.length === 0) return;
  const follower = presence.users(watched);
  watching = follower;
  void (async () => {
    for await (const _ of follower) renderWatching();
  })();
}

function renderWatching(): void {
  const view: WatchedUsers = watching?.latest ?? {};
  const list = $('watching');
  list.replaceChildren(
    ...watched.map((name) => {
      const user = view[name];
      const status = user?.status ?? 'offline';
      const item = el('li', 'person');
      item.dataset.user = name;
      item.dataset.status = status;
      const dot = el('span', 'dot');
      dot.dataset.status = status;
      dot.title = status;
      item.append(dot, el('span', 'person-name', name));
      const detail = !user ? '…' : status !== 'offline' ? status : user.lastSeen ? `last seen ${ago(user.lastSeen)}` : 'never seen';
      item.append(el('span', 'person-detail', detail));
      const remove = el('button', 'small remove', '×');
      remove.type = 'button';
      remove.title = `Stop watching ${name}`;
      remove.addEventListener('click', () => {
        watched = watched.filter((other) => other !== name);
        localStorage.setItem(WATCHING_KEY, JSON.stringify(watched));
        followWatched();
      });
      item.append(remove);
      return item;
    }),
  );
  $('watching-empty').hidden = watched.length > 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Rooms

/**
 * Joins `room:<name>` and follows who is in it with the helper's `channel()`: it subscribes to
 * `presence:room:<name>` (allowed once the page is in the room, and asked again until it is), takes a snapshot
 * and applies the numbered diffs after it, and starts over after a gap or a reconnect.
 */
function joinRoom(room: string): void {
  if (rooms.has(room)) return;
  const channel = ROOM_PREFIX + room;
  const roomChannel = socket.subscribe(channel);
  const state: RoomState = {
    members: presence.channel(channel, { prefix: PRESENCE_PREFIX, waitForAuth: true, retryMs: 300 }),
  };
  rooms.set(room, state);
  saveRooms();
  renderRooms();
  void (async () => {
    for await (const { error } of roomChannel.listener('subscribeFail')) {
      $('room-error').textContent = `Could not join #${room}: ${error.message}`;
      leaveRoom(room);
    }
  })();
  void (async () => {
    for await (const _ of state.members) {
      renderRooms();
      refreshCounts();
    }
  })();
}

/** Leaves a room; `remember: false` keeps it in the rooms to join at the next sign-in. */
function leaveRoom(room: string, remember = true): void {
  const state = rooms.get(room);
  if (!state) return;
  rooms.delete(room);
  state.members.close();
  socket.unsubscribe(ROOM_PREFIX + room);
  socket.closeChannel(ROOM_PREFIX + room);
  if (remember) saveRooms();
  renderRooms();
}

// ---------------------------------------------------------------------------------------------------------------
// Signing in and out

function signedInAs(): string | null {
  if (socket.authState !== 'authenticated') return null;
  const token = socket.authToken as { user_id?: unknown; name?: unknown } | null;
  const id = token?.user_id;
  return typeof id === 'string' ? id : typeof id === 'number' ? String(id) : null;
}

function authChanged(): void {
  const now = signedInAs();
  if (now === me) return;
  me = now;
  if (me) {
    for (const room of storedRooms()) joinRoom(room);
    void loadUsers().catch(report('loading the people'));
    sendState();
  } else {
    const joined = [...rooms.keys()];
    for (const room of joined) leaveRoom(room, false);
  }
  followWatched();
  showView();
}

$('sign-in-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $<HTMLInputElement>('name');
  const error = $('sign-in-error');
  const checked = checkName(input.value);
  if ('problem' in checked) {
    error.textContent = checked.problem.replace(/^a name/, 'The name');
    return;
  }
  error.textContent = '';
  const button = $<HTMLButtonElement>('sign-in');
  button.disabled = true;
  socket
    .invoke(LOGIN_PROCEDURE, checked.name)
    .then(() => authChanged())
    .catch((e: Error) => {
      error.textContent = e.message ? e.message.charAt(0).toUpperCase() + e.message.slice(1) : 'Could not sign in';
    })
    .finally(() => {
      button.disabled = false;
    });
});

$('sign-out').addEventListener('click', () => {
  localStorage.removeItem(ROOMS_KEY);
  void socket.deauthenticate().finally(authChanged);
  authChanged();
});

// ---------------------------------------------------------------------------------------------------------------
// Controls

$('idle-toggle').addEventListener('click', () => {
  if (presence.status === 'idle') {
    presence.setOnline().catch(report('going online'));
  } else {
    ignoreInputUntil = Date.now() + IDLE_BUTTON_QUIET_MS;
    presence.setIdle().catch(report('going idle'));
  }
  renderYou();
});

$('reconnect').addEventListener('click', () => {
  socket.reconnect();
  renderConnection();
});

$('count-types').addEventListener('click', (event) => {
  const type = (event.target as HTMLElement).closest('button')?.dataset.type as CountType | undefined;
  if (!type || !COUNT_TYPES.includes(type)) return;
  countType = type;
  localStorage.setItem(COUNT_TYPE_KEY, type);
  renderCount();
});

$('note').addEventListener('input', () => {
  note = $<HTMLInputElement>('note').value.trim().slice(0, 60);
  typingUntil = Date.now() + TYPING_MS;
  sendState();
  // Once the keys stop, "typing" goes away with one more send.
  if (typingTimer !== undefined) clearTimeout(typingTimer);
  typingTimer = setTimeout(sendState, TYPING_MS + 50);
});

$('watch-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $<HTMLInputElement>('watch-name');
  const error = $('watch-error');
  const checked = checkName(input.value);
  if ('problem' in checked) {
    error.textContent = checked.problem.replace(/^a name/, 'The name');
    return;
  }
  if (watched.length >= MAX_WATCHING && !watched.includes(checked.name)) {
    error.textContent = `You can watch up to ${MAX_WATCHING} people.`;
    return;
  }
  error.textContent = '';
  input.value = '';
  if (watched.includes(checked.name)) return;
  watched = [...watched, checked.name];
  localStorage.setItem(WATCHING_KEY, JSON.stringify(watched));
  followWatched();
});

$('join-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $<HTMLInputElement>('room-name');
  const room = input.value.trim().replace(/^#/, '');
  const error = $('room-error');
  if (!ROOM_NAME.test(room)) {
    error.textContent = 'A room name has 1 to 40 letters, digits, "-", "_" or ".".';
    return;
  }
  error.textContent = '';
  input.value = '';
  joinRoom(room);
});

// ---------------------------------------------------------------------------------------------------------------
// Live updates

/** A live event, or one of the recent events loaded when the page opens. */
function onEvent(event: DemoEvent): void {
  addEvent(event);
  if (event.type === 'user.online' || event.type === 'user.idle' || event.type === 'user.offline') {
    const known = users.get(event.userId);
    const user: UserDetails = {
      userId: event.userId,
      status: event.status,
      since: event.at,
      lastSeen: event.status === 'offline' ? event.at : (known?.lastSeen ?? null),
    };
    if (updateUser(user, Date.parse(event.at))) {
      renderUsers();
      renderYou();
    }
  }
  refreshCounts();
}

const eventsChannel = socket.subscribe(EVENTS_CHANNEL);
// What was published before the subscription took effect comes from the server's recent events.
follow(eventsChannel.listener('subscribe'), () => {
  setTimeout(() => void loadEvents().catch(report('loading the recent events')), 300);
});
void (async () => {
  for await (const data of eventsChannel) {
    const event = parseDemoEvent(data);
    if (event) onEvent(event);
  }
})();


void (async () => {
  for await (const published of presence.usercount(usercountChannel)) {
    $('count-note').textContent = `Last publish on ${usercountChannel}: ${published}, at ${clock(new Date().toISOString())}. Counts by type from GET /presence/count.`;
    refreshCounts();
  }
})();

/** Runs `handle` for every event of a socket listener stream. */
function follow(stream: AsyncIterable<unknown>, handle: () => void): void {
  void (async () => {
    for await (const _ of stream) handle();
  })();
}

follow(socket.listener('connect'), () => {
  ready = true;
  renderConnection();
  authChanged();
  showView();
  refreshCounts();
  void loadUsers().catch(report('loading the people'));
});
follow(socket.listener('connecting'), renderConnection);
follow(socket.listener('disconnect'), renderConnection);
follow(socket.listener('connectAbort'), renderConnection);
follow(socket.listener('close'), renderConnection);
follow(socket.listener('authenticate'), authChanged);
follow(socket.listener('deauthenticate'), authChanged);

// "3 min ago" moves on by itself.
setInterval(() => {
  renderUsers();
  renderWatching();
}, 5000);

$('log').append(el('li', 'log-empty', 'Nothing yet: sign in somewhere else to see events.'));
$('idle-seconds').textContent = `${Math.round(idleAfterMs / 100) / 10} s`;
renderConnection();
renderCount();
renderRooms();
showView();
setTimeout(() => {
  if (ready) return;
  ready = true;
  showView();
}, 2000);
void loadEvents().catch(report('loading the recent events'));
void loadCounts().catch(report('loading the counts'));
