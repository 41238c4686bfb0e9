/** pgcdc's version, as reported in events (`source.version`) and by `pgcdc --version`. */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const PGCDC_VERSION: string = (require('../package.json') as { version: string }).version;
