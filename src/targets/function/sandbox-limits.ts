/**
 * The limits of the PgLambda sandbox: defaults and the smallest values accepted, shared by the
 * `pgLambda` settings schema and the sandbox (this module loads nothing, so the configuration
 * layer does not load isolated-vm).
 */

/** Default heap limit of the isolate, in MB (isolated-vm's default). */
export const DEFAULT_MEMORY_LIMIT_MB = 128;
/** Smallest heap limit isolated-vm accepts, in MB. */
export const MIN_MEMORY_LIMIT_MB = 8;
/** Default time the script may take for one event, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 5_000;
