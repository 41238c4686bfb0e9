/**
 * The client side of SCRAM-SHA-256 (RFC 5802/7677) as PostgreSQL uses it, without channel binding.
 */
import crypto from 'node:crypto';
import { PgcdcError } from '../../errors/pgcdc-error.js';

export const SCRAM_MECHANISM = 'SCRAM-SHA-256';

/** One SCRAM exchange: client-first, then client-final, then verification of the server. */
export class ScramSession {
  readonly #password: string;
  readonly #clientNonce = crypto.randomBytes(18).toString('base64');
  #clientFirstBare = '';
  #expectedServerSignature: Buffer | undefined;

  constructor(password: string) {
    this.#password = password;
  }

  /** client-first-message. PostgreSQL takes the user name from the startup packet. */
  clientFirstMessage(): string {
    this.#clientFirstBare = `n=*,r=${this.#clientNonce}`;
    return `n,,${this.#clientFirstBare}`;
  }

  /** client-final-message for the server-first-message. */
  clientFinalMessage(serverFirst: string): string {
    const attributes = parseAttributes(serverFirst);
    const nonce = attributes.get('r');
    const salt = attributes.get('s');
    const iterations = Number(attributes.get('i'));
    if (!nonce || !salt || !Number.isInteger(iterations) || !nonce.startsWith(this.#clientNonce)) {
      throw new PgcdcError('PROTOCOL', 'the server sent an invalid SCRAM-SHA-256 challenge');
    }
    const saltedPassword = crypto.pbkdf2Sync(this.#password.normalize('NFKC'), Buffer.from(salt, 'base64'), iterations, 32, 'sha256');
    const clientKey = hmac(saltedPassword, 'Client Key');
    const storedKey = crypto.createHash('sha256').update(clientKey).digest();
    const clientFinalWithoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.#clientFirstBare},${serverFirst},${clientFinalWithoutProof}`;
    const clientSignature = hmac(storedKey, authMessage);
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ clientSignature[i]!;
    this.#expectedServerSignature = hmac(hmac(saltedPassword, 'Server Key'), authMessage);
    return `${clientFinalWithoutProof},p=${proof.toString('base64')}`;
  }

  /** Checks the server-final-message proves the server knows the password too. */
  verifyServerFinal(serverFinal: string): void {
    const signature = parseAttributes(serverFinal).get('v');
    if (!signature || !this.#expectedServerSignature) {
      throw new PgcdcError('PROTOCOL', 'the server sent an invalid SCRAM-SHA-256 final message');
    }
    const received = Buffer.from(signature, 'base64');
    if (received.length !== this.#expectedServerSignature.length || !crypto.timingSafeEqual(received, this.#expectedServerSignature)) {
      throw new PgcdcError('AUTH_FAILED', 'the server failed SCRAM-SHA-256 verification', {
        hint: 'the server did not prove it knows the password; check you are connecting to the right server',
      });
    }
  }
}

function hmac(key: Buffer, data: string): Buffer {
  return crypto.createHmac('sha256', key).update(data).digest();
}

function parseAttributes(message: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const part of message.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) attributes.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return attributes;
}
