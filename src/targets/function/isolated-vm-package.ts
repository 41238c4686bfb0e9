/**
 * isolated-vm, which gives the PgLambda sandbox its V8 isolates: an optional dependency (npm builds
 * it from source, which needs a C++ toolchain), loaded with this module, so only by streams whose
 * target is PgLambda (create-target imports a target's modules on first use). Where it is missing,
 * importing this module fails with one TARGET_FAILED error saying how to install it, which
 * `checkTarget` reports before `run` or `validate` touch the source.
 */
import { loadOptionalPackage, type OptionalPackage } from '../../optional-package.js';

export type { Context, Isolate, Reference, Script } from 'isolated-vm';

export const ISOLATED_VM: OptionalPackage = {
  name: 'isolated-vm',
  neededBy: 'the PgLambda target',
  buildTools: 'python3, make and g++',
  code: 'PACKAGE_MISSING',
};

const { default: ivm } = await loadOptionalPackage(ISOLATED_VM, () => import('isolated-vm'));

export default ivm;
