/**
 * Browser idle detection without any DOM typings in the public surface: the shapes below are the little that
 * is used, so the module compiles and runs in Node too (where nothing is monitored unless objects are injected).
 */

/** What the client wants the server to store for its socket. */
export type PresenceClientStatus = 'online' | 'idle';

/** The options accepted by `addEventListener` that the monitor uses. */
export interface ListenerOptionsLike {
  capture?: boolean;
  passive?: boolean;
}

/** Anything with `addEventListener` / `removeEventListener`: `window`, `document`, or a fake in a test. */
export interface EventTargetLike {
  addEventListener(type: string, listener: (event: unknown) => void, options?: ListenerOptionsLike | boolean): void;
  removeEventListener(type: string, listener: (event: unknown) => void, options?: ListenerOptionsLike | boolean): void;
}

/** The part of `document` the monitor reads: its visibility, and the `visibilitychange` event. */
export interface DocumentLike extends EventTargetLike {
  readonly visibilityState?: string;
}

/** Time source and timers, injectable so tests can drive the monitor without waiting. */
export interface IdleClock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface IdleMonitorOptions {
  /** No input for this long means idle. Default 60000. */
  idleAfterMs?: number;
  /** Where input events are listened for. Default: `window`, else the document. */
  target?: EventTargetLike | null;
  /** Whose `visibilityState` is followed. Default: the global `document`. */
  document?: DocumentLike | null;
  /** Default: `Date.now` and the global timers (looked up at each call, so fake timers installed later apply). */
  clock?: IdleClock;
}

export const DEFAULT_IDLE_AFTER_MS = 60_000;

/** The inputs that count as the user being there. Mouse events as well as pointer events for old browsers. */
export const ACTIVITY_EVENTS: readonly string[] = [
  'keydown',
  'pointerdown',
  'pointermove',
  'mousedown',
  'mousemove',
  'touchstart',
  'wheel',
];

// Capture: an app that stops propagation must not make its user look idle. Passive: never delays scrolling.
const LISTENER_OPTIONS: ListenerOptionsLike = { capture: true, passive: true };

const globalClock: IdleClock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => {
    const handle = globalThis.setTimeout(callback, ms) as unknown as { unref?: () => void };
    // In Node the monitor must never be what keeps a process alive.
    if (typeof handle === 'object' && handle !== null && typeof handle.unref === 'function') handle.unref();
    return handle;
  },
  clearTimeout: (handle) => globalThis.clearTimeout(handle as Parameters<typeof clearTimeout>[0]),
};

function isEventTarget(value: unknown): value is EventTargetLike {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as EventTargetLike).addEventListener === 'function' &&
    typeof (value as EventTargetLike).removeEventListener === 'function'
  );
}

/** The browser's `window` and `document` when there are any (none in Node, nor in a worker). */
export function defaultIdleEnvironment(): { target: EventTargetLike | null; document: DocumentLike | null } {
  const g = globalThis as { window?: unknown; document?: unknown };
  const document = isEventTarget(g.document) ? (g.document as DocumentLike) : null;
  const target = isEventTarget(g.window) ? g.window : document;
  return { target, document };
}

/**
 * Decides online/idle from input and tab visibility and reports only changes, so a stream of mouse moves costs
 * one timestamp each. A single timer runs per idle period: when it fires early (input came since), it is set
 * again for the remainder instead of being reset on every event.
 */
export class IdleMonitor {
  private readonly idleAfterMs: number;
  private readonly target: EventTargetLike | null;
  private readonly document: DocumentLike | null;
  private readonly clock: IdleClock;
  private current: PresenceClientStatus = 'online';
  private lastInputAt: number;
  private timer: unknown = undefined;
  private timerSet = false;
  private stopped = false;

  private readonly onInput = () => this.input();
  private readonly onVisibility = () => this.visibilityChanged();

  constructor(
    private readonly onChange: (status: PresenceClientStatus) => void,
    options: IdleMonitorOptions = {},
  ) {
    const idleAfterMs = options.idleAfterMs ?? DEFAULT_IDLE_AFTER_MS;
    if (typeof idleAfterMs !== 'number' || !Number.isFinite(idleAfterMs) || idleAfterMs <= 0) {
      throw new TypeError(`idleAfterMs must be a positive number of milliseconds (got ${String(idleAfterMs)})`);
    }
    this.idleAfterMs = idleAfterMs;
    const defaults = defaultIdleEnvironment();
    this.document = options.document === undefined ? defaults.document : options.document;
    this.target = options.target === undefined ? (options.document ?? defaults.target) : options.target;
    this.clock = options.clock ?? globalClock;
    this.lastInputAt = this.clock.now();
    if (!this.target && !this.document) {
      this.stopped = true; // nothing to watch (Node, a worker): no timer either
      return;
    }

    for (const type of ACTIVITY_EVENTS) this.target?.addEventListener(type, this.onInput, LISTENER_OPTIONS);
    this.document?.addEventListener('visibilitychange', this.onVisibility, false);
    // A tab opened in the background starts idle; read `status` for it (nothing is reported from here).
    if (this.hidden()) this.current = 'idle';
    else this.schedule(this.idleAfterMs);
  }

  /** Whether there is anything to watch: without a target or a document the monitor does nothing. */
  get active(): boolean {
    return !this.stopped && (this.target !== null || this.document !== null);
  }

  /** The status the monitor last decided (or was told with `reset`). */
  get status(): PresenceClientStatus {
    return this.current;
  }

  /**
   * Aligns the monitor with a status set by the app: after `setIdle()` the next input brings the user back
   * online, after `setOnline()` a new idle period starts. Does not report the change (the app made it).
   */
  reset(status: PresenceClientStatus): void {
    if (this.stopped) return;
    this.current = status;
    if (status === 'online') {
      this.lastInputAt = this.clock.now();
      if (!this.hidden()) this.schedule(this.idleAfterMs);
    } else {
      this.cancel();
    }
  }

  /** Removes every listener and the timer. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.cancel();
    for (const type of ACTIVITY_EVENTS) this.target?.removeEventListener(type, this.onInput, LISTENER_OPTIONS);
    this.document?.removeEventListener('visibilitychange', this.onVisibility, false);
  }

  private hidden(): boolean {
    return this.document?.visibilityState === 'hidden';
  }

  private input(): void {
    if (this.stopped || this.hidden()) return;
    this.lastInputAt = this.clock.now();
    if (this.current === 'idle') {
      this.change('online');
      this.schedule(this.idleAfterMs);
    } else if (!this.timerSet) {
      this.schedule(this.idleAfterMs);
    }
  }

  private visibilityChanged(): void {
    if (this.stopped) return;
    if (this.hidden()) {
      this.cancel();
      this.change('idle');
    } else {
      // Coming back to the tab is the user being there, whatever the last input was.
      this.lastInputAt = this.clock.now();
      this.change('online');
      this.schedule(this.idleAfterMs);
    }
  }

  private expired(): void {
    this.timerSet = false;
    if (this.stopped) return;
    const quietFor = this.clock.now() - this.lastInputAt;
    if (quietFor >= this.idleAfterMs) this.change('idle');
    else this.schedule(this.idleAfterMs - quietFor);
  }

  private schedule(ms: number): void {
    this.cancel();
    this.timerSet = true;
    this.timer = this.clock.setTimeout(() => this.expired(), ms);
  }

  private cancel(): void {
    if (!this.timerSet) return;
    this.timerSet = false;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private change(status: PresenceClientStatus): void {
    if (this.current === status) return;
    this.current = status;
    this.onChange(status);
  }
}
