/**
 * Takes charge of the next `setTimeout` with exactly `delayMs` (a delay nothing else uses): it is still a real
 * timer that can be cleared as usual, but the test can run its callback earlier with `fire()` (once in all). Only timers created
 * between this call and `restore()` are looked at.
 */
export function holdTimer(delayMs: number) {
  const realSetTimeout = globalThis.setTimeout;
  let callback: (() => void) | undefined;
  globalThis.setTimeout = ((fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    if (ms !== delayMs || callback) return realSetTimeout(fn, ms, ...args);
    let ran = false;
    callback = () => {
      if (ran) return;
      ran = true;
      fn(...args);
    };
    return realSetTimeout(callback, ms);
  }) as typeof setTimeout;
  return {
    restore: () => {
      globalThis.setTimeout = realSetTimeout;
    },
    /** Runs the held timer's callback now (unless it already ran). */
    fire: () => {
      if (!callback) throw new Error(`no setTimeout of ${delayMs} ms was created`);
      callback();
    },
  };
}
