/**
 * A value that changes over time, read as an async iterable. Each loop gets the newest value it has not seen
 * yet: a loop slower than the changes skips the values in between instead of queueing them, so a busy room
 * costs no memory in a slow consumer. When the last loop ends (`break`, `return`, a throw), `onIdle` runs once.
 */
export class LatestStream<T> implements AsyncIterable<T> {
  private value: T | undefined;
  private version = 0;
  private ended = false;
  private loops = 0;
  private readonly waiters = new Set<() => void>();

  constructor(private readonly onIdle: () => void) {}

  /** The newest value, or undefined before the first. */
  get latest(): T | undefined {
    return this.value;
  }

  get closed(): boolean {
    return this.ended;
  }

  push(value: T): void {
    if (this.ended) return;
    this.value = value;
    this.version += 1;
    this.wake();
  }

  /** Ends every loop (their pending `next()` resolves done). */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.wake();
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    let seen = 0;
    let done = this.ended;
    if (!done) this.loops += 1;
    const finish = (): IteratorResult<T> => {
      if (!done) {
        done = true;
        this.loops -= 1;
        if (this.loops === 0) this.onIdle();
      }
      return { done: true, value: undefined };
    };
    return {
      next: async (): Promise<IteratorResult<T>> => {
        while (!done && !this.ended && this.version === seen) {
          await new Promise<void>((resolve) => this.waiters.add(resolve));
        }
        if (done || this.ended) return finish();
        seen = this.version;
        return { done: false, value: this.value as T };
      },
      return: async (): Promise<IteratorResult<T>> => {
        const result = finish();
        // A next() still waiting in this loop resolves done too.
        this.wake();
        return result;
      },
    };
  }

  private wake(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const resolve of waiters) resolve();
  }
}
