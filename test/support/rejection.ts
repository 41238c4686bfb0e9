/**
 * The PgcdcError a promise rejects with, checked to be one (for tests of failures).
 */
import { expect } from 'vitest';
import { PgcdcError } from '../../src/errors/pgcdc-error.js';

export async function pgcdcRejection(promise: Promise<unknown>): Promise<PgcdcError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(PgcdcError);
  return error as PgcdcError;
}
