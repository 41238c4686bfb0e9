/**
 * Answers the server's authentication requests during startup: trust, cleartext password, MD5 and
 * SCRAM-SHA-256 (channel binding is not used). Anything else gets an error saying what to allow.
 */
import crypto from 'node:crypto';
import type { ConnectionConfig } from '../../config/stream-config.js';
import { PgcdcError } from '../../errors/pgcdc-error.js';
import { passwordMessage, saslInitialResponseMessage, saslResponseMessage } from './frontend-messages.js';
import { SCRAM_MECHANISM, ScramSession } from './scram-sha-256.js';

const AUTH_OK = 0;
const AUTH_CLEARTEXT = 3;
const AUTH_MD5 = 5;
const AUTH_SASL = 10;
const AUTH_SASL_CONTINUE = 11;
const AUTH_SASL_FINAL = 12;

export class Authenticator {
  readonly #config: ConnectionConfig;
  readonly #write: (message: Buffer) => void;
  #scram: ScramSession | undefined;

  constructor(config: ConnectionConfig, write: (message: Buffer) => void) {
    this.#config = config;
    this.#write = write;
  }

  /** Handles one Authentication message (`R`); returns the error that ends the startup, if any. */
  answer(buf: Buffer, start: number, end: number): PgcdcError | undefined {
    const kind = buf.readInt32BE(start);
    if (kind === AUTH_OK) return undefined;
    const { password, user, host, port } = this.#config;
    if (password === undefined) {
      return new PgcdcError('AUTH_FAILED', `the server asks for a password for ${user}@${host}:${port} and none was given`, {
        hint: 'put it in the source URL (postgres://user:${PGPASSWORD}@host/db reads it from the environment) or in the password secret',
      });
    }
    switch (kind) {
      case AUTH_CLEARTEXT:
        this.#write(passwordMessage(password));
        return undefined;
      case AUTH_MD5: {
        const salt = buf.subarray(start + 4, start + 8);
        const inner = md5Hex(Buffer.concat([Buffer.from(password, 'utf8'), Buffer.from(user, 'utf8')]));
        this.#write(passwordMessage(`md5${md5Hex(Buffer.concat([Buffer.from(inner), salt]))}`));
        return undefined;
      }
      case AUTH_SASL: {
        const mechanisms = buf.toString('utf8', start + 4, end).split('\0').filter(Boolean);
        if (!mechanisms.includes(SCRAM_MECHANISM)) {
          return new PgcdcError('AUTH_FAILED', `the server offers SASL mechanisms ${mechanisms.join(', ')}; pgcdc supports ${SCRAM_MECHANISM}`, {
            hint: 'allow scram-sha-256 for this user in pg_hba.conf',
          });
        }
        this.#scram = new ScramSession(password);
        this.#write(saslInitialResponseMessage(SCRAM_MECHANISM, this.#scram.clientFirstMessage()));
        return undefined;
      }
      case AUTH_SASL_CONTINUE:
        if (!this.#scram) break;
        this.#write(saslResponseMessage(this.#scram.clientFinalMessage(buf.toString('utf8', start + 4, end))));
        return undefined;
      case AUTH_SASL_FINAL:
        if (!this.#scram) break;
        this.#scram.verifyServerFinal(buf.toString('utf8', start + 4, end));
        return undefined;
    }
    return new PgcdcError('AUTH_FAILED', `the server asks for an authentication method pgcdc does not support (code ${kind})`, {
      hint: 'use scram-sha-256, md5 or password authentication for this user in pg_hba.conf',
    });
  }
}

function md5Hex(data: Buffer): string {
  return crypto.createHash('md5').update(data).digest('hex');
}
