/** What the demo accepts as a user name (the name is the user id). */
export const MAX_NAME_LENGTH = 32;

/**
 * The name, trimmed and NFC-normalised, or the reason it is refused: 1 to 32 characters (code points), no
 * control characters, no line or paragraph separators, no bidirectional overrides.
 */
export function checkName(value: unknown): { name: string } | { problem: string } {
  if (typeof value !== 'string') return { problem: 'a name must be a string' };
  const name = value.normalize('NFC').trim();
  if (name.length === 0) return { problem: 'a name must not be empty' };
  const length = [...name].length;
  if (length > MAX_NAME_LENGTH) return { problem: `a name has at most ${MAX_NAME_LENGTH} characters (this one has ${length})` };
  if (/[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u.test(name)) return { problem: 'a name must not contain control characters' };
  return { name };
}

/** Room names: 1 to 40 letters, digits, `-`, `_` or `.`. */
export const ROOM_NAME = /^[\p{L}\p{N}_.-]{1,40}$/u;
