/** Runs the work handed to it one piece after another, in the order given; a failure does not stop the queue. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  /** Whether nothing is queued or running. */
  get idle(): boolean {
    return this.pending === 0;
  }

  run<T>(work: () => Promise<T>): Promise<T> {
    this.pending++;
    const next = this.tail.then(work, work).finally(() => this.pending--);
    this.tail = next.catch(() => undefined);
    return next;
  }
}
