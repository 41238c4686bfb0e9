/**
 * `spec.transform` as the configuration loader reads it: defaults, every shortcut, the function's
 * sources and limits, the grants (env, allowNetwork), and one clear line for each thing refused (a
 * mask with both or neither of hash and fixed, an unknown hash algorithm, an allowNetwork host with
 * a scheme, added fields with Kafka Connect schemas, a missing granted variable).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseStreamConfig } from '../../src/config/load-stream-config.js';
import { tempDir } from '../support/stream-fixtures.js';
import { transformDocument } from './transform-fixtures.js';

const URL = 'postgres://cdc@db.example.com/shop';

async function load(transform: unknown, options: { target?: object; env?: NodeJS.ProcessEnv } = {}) {
  const dir = tempDir('pgcdc-transform-config-');
  return parseStreamConfig(transformDocument(URL, transform, { dir, name: 'cfg', ...(options.target ? { target: options.target } : {}) }), { cwd: dir, env: options.env ?? {} });
}

describe('spec.transform configuration', () => {
  it('fills the defaults and reads every shortcut', async () => {
    const config = await load({
      dropColumns: ['public\\.t\\.x'],
      renameColumns: [{ column: 'public\\.t\\.a', to: 'b' }],
      maskColumns: [{ columns: ['public\\.t\\.e'], hash: { salt: 's', strategy: 'v1', algorithm: 'SHA-512' } }, { columns: ['public\\.t\\.p'], fixed: '***' }],
      addFields: [{ fields: { region: 'eu', n: 1.5, nested: { ok: true } } }],
      keepOperations: [{ tables: ['public\\.audit'], operations: ['c', 'r'] }],
    });
    expect(config.transform).toStrictEqual({
      dropColumns: ['public\\.t\\.x'],
      renameColumns: [{ column: 'public\\.t\\.a', to: 'b' }],
      maskColumns: [
        { columns: ['public\\.t\\.e'], mask: { kind: 'hash', algorithm: 'SHA-512', salt: 's', version: 1 } },
        { columns: ['public\\.t\\.p'], mask: { kind: 'fixed', value: '***' } },
      ],
      addFields: [{ tables: ['.*'], fields: { region: 'eu', n: 1.5, nested: { ok: true } } }],
      keepOperations: [{ tables: ['public\\.audit'], operations: ['c', 'r'] }],
      script: undefined,
      deadLetter: { policy: 'stop', store: { kind: 'file', path: undefined } },
    });
    const withScript = await load({ script: '(e) => e', grants: { env: ['REGION'] } }, { env: { REGION: 'eu-west' } });
    expect(withScript.transform?.script).toStrictEqual({ source: '(e) => e', origin: 'spec.transform.script', timeoutMs: 5000, memoryLimitMb: 128, grants: { allowNetwork: undefined, env: { REGION: 'eu-west' } } });
    const withNetwork = await load({ script: '(e) => e', grants: { allowNetwork: { hosts: ['api.example.com:8443'], timeoutMs: 500 } } });
    expect(withNetwork.transform?.script?.grants).toStrictEqual({
      allowNetwork: { hosts: [{ text: 'api.example.com:8443', host: 'api.example.com', wildcard: false, port: 8443 }], requestTimeoutMs: 500 },
      env: undefined,
    });
  });

  it('reads the function from a file or a ConfigMap document', async () => {
    const dir = tempDir('pgcdc-transform-config-');
    fs.writeFileSync(path.join(dir, 'fn.js'), '(event) => event\n');
    const fromFile = await parseStreamConfig(transformDocument(URL, { scriptFrom: { file: 'fn.js' } }, { dir }), { cwd: dir, env: {} });
    expect(fromFile.transform?.script?.origin).toBe(path.join(dir, 'fn.js'));
    const configMap = `${transformDocument(URL, { scriptFrom: { configMapKeyRef: { name: 'transforms', key: 'fn.js' } } }, { dir })}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: transforms}\ndata:\n  fn.js: "(event) => null"\n`;
    const fromConfigMap = await parseStreamConfig(configMap, { cwd: dir, env: {} });
    expect(fromConfigMap.transform?.script).toMatchObject({ source: '(event) => null', origin: 'key "fn.js" of ConfigMap "transforms"' });
  });

  it('refuses what cannot work, each with one line', async () => {
    await expect(load({ maskColumns: [{ columns: ['a'], hash: { salt: 's' }, fixed: 'x' }] })).rejects.toThrow(/maskColumns\[0\] has both hash and fixed; expected exactly one of them/);
    await expect(load({ maskColumns: [{ columns: ['a'] }] })).rejects.toThrow(/maskColumns\[0\] has neither hash nor fixed/);
    await expect(load({ maskColumns: [{ columns: ['a'], hash: { salt: 's', algorithm: 'SHA-999' } }] })).rejects.toThrow(/algorithm.*is not a hash algorithm pgcdc computes/);
    await expect(load({ script: 'x', grants: { allowNetwork: { hosts: ['https://api.example.com'] } } })).rejects.toThrow(/spec\.transform\.grants\.allowNetwork\.hosts\[0\]/);
    await expect(load({ script: 'x', grants: { env: ['PGCDC_NOT_SET_ANYWHERE'] } })).rejects.toThrow(/PGCDC_NOT_SET_ANYWHERE, which is not set in pgcdc's environment/);
    await expect(load({ script: 'x', scriptFrom: { file: 'f.js' } })).rejects.toThrow(/scriptFrom is given together with script/);
    await expect(load({ keepOperations: [{ operations: ['x'] }] })).rejects.toThrow(/keepOperations\[0\]\.operations\[0\]/);
    const kafka = { type: 'Kafka', kafka: { bootstrapServers: 'localhost:9092', schemasEnable: true } };
    await expect(load({ addFields: [{ fields: { a: 1 } }] }, { target: kafka })).rejects.toThrow(/spec\.transform\.addFields cannot be used with schemasEnable: true/);
    await expect(load({ dropColumns: ['x'] }, { target: { type: 'Postgres', postgres: { url: URL } } })).rejects.toThrow(/spec\.transform is not applied by a Postgres target/);
  });
});
