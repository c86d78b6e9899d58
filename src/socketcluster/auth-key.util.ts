import { createSecretKey } from 'node:crypto';
import type { AGServer } from 'socketcluster-server';

/**
 * Gives a server that signs and verifies with one shared `authKey` that key as a secret KeyObject. jsonwebtoken
 * turns a string or Buffer key into a KeyObject on every call, trying it first as a PEM public key: that attempt
 * fails and throws each time, and on a connect storm it was the largest single cost of the server's main thread
 * (one verify per handshake token). Tokens, algorithms and checks stay the same: a secret key allows the HS*
 * algorithms only, as the string did. Servers with a key pair (authPrivateKey / authPublicKey) are left as they are.
 */
export function useSecretKeyObject(server: AGServer): void {
  const key = server.signatureKey;
  if (key === undefined || key !== server.verificationKey) return;
  if (typeof key !== 'string' && !Buffer.isBuffer(key)) return;
  const secret = createSecretKey(typeof key === 'string' ? Buffer.from(key, 'utf8') : key);
  server.signatureKey = secret;
  server.verificationKey = secret;
}
