import { describeValue } from '../options/describe-value.util.js';
import { MAX_STATE_DEPTH } from '../presence.constants.js';
import { STATE_CYCLE, STATE_NOT_JSON, STATE_TOO_BIG, STATE_TOO_DEEP, STATE_VALUE } from '../presence.messages.js';

/** A session state as stored: its JSON, or null for none; or why it was refused. */
export type StateEncoding = { json: string | null } | { problem: string };

class Refused {
  constructor(readonly problem: string) {}
}

const isPlainObject = (value: unknown): value is Record<string, unknown> => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
};

const wellFormed = (text: string) => (text as string & { isWellFormed(): boolean }).isWellFormed();

const keyPath = (path: string, key: string) => (/^[A-Za-z_$][\w$]{0,40}$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key.slice(0, 40))}]`);

function notJson(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'bigint') return 'a bigint';
  if (typeof value === 'symbol') return 'a symbol';
  if (typeof value === 'string') return 'a string with a lone UTF-16 surrogate';
  if (typeof value === 'object' && value !== null) return `an instance of ${value.constructor?.name ?? 'a class'}`;
  return describeValue(value);
}

/**
 * Checks a session state and gives the JSON to store: null (clear), or a plain object of JSON values only.
 * Anything `JSON.stringify` would drop or change silently (undefined, functions, NaN, dates, class instances)
 * is refused instead, and so are cycles, nesting past MAX_STATE_DEPTH and more than `maxBytes` of UTF-8.
 * Keys are written sorted, so the same state gives the same text whatever order its keys were set in: equal
 * states compare equal as stored, and a member's states can be told changed or not by their text.
 */
export function encodeSessionState(value: unknown, maxBytes: number): StateEncoding {
  if (value === null) return { json: null };
  if (!isPlainObject(value)) return { problem: STATE_VALUE(describeValue(value)) };
  const parts: string[] = [];
  // UTF-16 units never outnumber UTF-8 bytes: past maxBytes units the state is too big whatever it holds.
  let units = 0;
  const put = (text: string) => {
    units += text.length;
    if (units > maxBytes) throw new Refused(STATE_TOO_BIG(maxBytes));
    parts.push(text);
  };
  const ancestors = new Set<object>();
  const write = (v: unknown, path: string, depth: number): void => {
    if (v === null || typeof v === 'boolean') return put(String(v));
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new Refused(STATE_NOT_JSON(path, notJson(v)));
      return put(JSON.stringify(v));
    }
    if (typeof v === 'string') {
      if (!wellFormed(v)) throw new Refused(STATE_NOT_JSON(path, notJson(v)));
      return put(JSON.stringify(v));
    }
    const array = Array.isArray(v);
    if (!array && !isPlainObject(v)) throw new Refused(STATE_NOT_JSON(path, notJson(v)));
    if (ancestors.has(v)) throw new Refused(STATE_CYCLE(path));
    if (depth >= MAX_STATE_DEPTH) throw new Refused(STATE_TOO_DEEP(MAX_STATE_DEPTH));
    ancestors.add(v);
    if (array) {
      put('[');
      // An index loop, not forEach: a hole reads as undefined and is refused like one.
      for (let i = 0; i < v.length; i++) {
        if (i > 0) put(',');
        write(v[i], `${path}[${i}]`, depth + 1);
      }
      put(']');
    } else {
      put('{');
      Object.keys(v).sort().forEach((key, i) => {
        if (!wellFormed(key)) throw new Refused(STATE_NOT_JSON(`${path} (a key)`, notJson(key)));
        if (i > 0) put(',');
        put(`${JSON.stringify(key)}:`);
        write(v[key], keyPath(path, key), depth + 1);
      });
      put('}');
    }
    ancestors.delete(v);
  };
  try {
    write(value, '', 0);
  } catch (error) {
    if (error instanceof Refused) return { problem: error.problem };
    throw error;
  }
  const json = parts.join('');
  if (Buffer.byteLength(json, 'utf8') > maxBytes) return { problem: STATE_TOO_BIG(maxBytes) };
  return { json };
}

/** A stored state read back; a value that is not a JSON object (written by hand) reads as none. */
export function decodeSessionState(json: string | null | undefined): Record<string, unknown> | null {
  if (!json) return null;
  try {
    const value: unknown = JSON.parse(json);
    return isPlainObject(value) ? value : null;
  } catch {
    return null;
  }
}
