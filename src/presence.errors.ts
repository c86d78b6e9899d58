/**
 * Error a client receives when the module refuses its request (bad status value, channel name too long,
 * not allowed to see a channel's presence). socketcluster-client rejects the invoke with an error whose
 * `name` is `'PresenceError'`.
 */
export class PresenceError extends Error {
  override readonly name = 'PresenceError';
  constructor(message: string) {
    super(message);
  }
}

/** The module options are wrong; the message names the option and says what it accepts. */
export class PresenceConfigError extends Error {
  override readonly name = 'PresenceConfigError';
  constructor(readonly problems: string[]) {
    super(
      `PresenceModule options are invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}\n` +
        'Fix them in PresenceModule.forRoot() / forRootAsync().',
    );
  }
}

/**
 * The module could not open its database at startup (`app.init()` fails with it; the message names the
 * database, without its password, the driver's reason and what to check), or a connection to it failed later
 * (a `PresenceService` read rejects with it). `cause` is the driver's error.
 */
export class PresenceDatabaseError extends Error {
  override readonly name = 'PresenceDatabaseError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
