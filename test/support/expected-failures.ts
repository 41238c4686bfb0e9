/**
 * Small helpers for tests of failures: the PgcdcError a promise rejects with, and a loopback port
 * nothing listens on (just released: a server told to listen there gets it, a client is refused).
 */
import net from 'node:net';
import { expect } from 'vitest';
import { PgcdcError } from '../../src/errors/pgcdc-error.js';

/** The PgcdcError `promise` rejects with (the test fails when it resolves or rejects with anything else). */
export async function failure(promise: Promise<unknown>): Promise<PgcdcError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(PgcdcError);
  return error as PgcdcError;
}

/** A loopback port free now. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
