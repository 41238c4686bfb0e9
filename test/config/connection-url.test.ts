import { describe, expect, it } from 'vitest';
import { connectionUrlFor, parseConnectionUrl, pgClientConfig } from '../../src/config/connection-url.js';
import type { ConnectionConfig, SslMode } from '../../src/config/stream-config.js';

const CONNECTION: ConnectionConfig = {
  host: 'db.example.com',
  port: 5433,
  database: 'shop db',
  user: 'cdc@corp',
  password: 'p@ss/w:rd',
  sslMode: 'require',
  sslRootCert: undefined,
  sslCert: undefined,
  sslKey: undefined,
  applicationName: 'pgcdc-orders',
  connectTimeoutMs: 4500,
};

describe('parseConnectionUrl', () => {
  it('reads every part and parameter', () => {
    expect(parseConnectionUrl('postgres://app:pw@db:5433/orders?sslmode=verify-ca&sslrootcert=ca.pem&sslcert=c.pem&sslkey=k.pem&application_name=x&connect_timeout=4')).toStrictEqual({
      parts: {
        host: 'db',
        port: 5433,
        database: 'orders',
        user: 'app',
        password: 'pw',
        sslMode: 'verify-ca',
        sslRootCertPath: 'ca.pem',
        sslCertPath: 'c.pem',
        sslKeyPath: 'k.pem',
        applicationName: 'x',
        connectTimeoutMs: 4000,
      },
    });
  });

  it('leaves what the URL does not say undefined', () => {
    expect(parseConnectionUrl('postgresql://db')).toStrictEqual({
      parts: {
        host: 'db',
        port: 5432,
        database: undefined,
        user: undefined,
        password: undefined,
        sslMode: undefined,
        sslRootCertPath: undefined,
        sslCertPath: undefined,
        sslKeyPath: undefined,
        applicationName: undefined,
        connectTimeoutMs: undefined,
      },
    });
  });

  it('takes user, password, host and port from the query string too', () => {
    const parsed = parseConnectionUrl('postgres:///orders?user=u&password=p&host=/tmp&port=6000');
    expect('parts' in parsed && [parsed.parts.host, parsed.parts.port, parsed.parts.user, parsed.parts.password, parsed.parts.database]).toStrictEqual(['/tmp', 6000, 'u', 'p', 'orders']);
  });

  it('rejects several hosts and bad ports', () => {
    expect(parseConnectionUrl('postgres://u:pw@a,b/db')).toStrictEqual({ problems: ['is "postgres://u:***@a,b/db", which names several hosts; expected exactly one host'] });
    expect(parseConnectionUrl('postgres://db/x?port=0')).toStrictEqual({ problems: ['has port "0"; expected an integer from 1 to 65535'] });
  });
});

describe('parseConnectionUrl with special characters in the password', () => {
  const ENCODE = 'expected the user name and password percent-encoded (@ as %40, # as %23, / as %2F, ? as %3F: p@ss#w/rd? is written p%40ss%23w%2Frd%3F)';

  it.each(['postgres://cdc:p/ss@db.example.com:5432/shop', 'postgres://cdc:p#ss@db.example.com/shop', 'postgres://cdc:pa@ss#w/rd@db.example.com/shop', 'postgres://cdc:12?ab@db.example.com/shop'])(
    '%s: an unencoded "/", "#" or "?" is a problem saying how to encode, without the password',
    (url) => {
      const parsed = parseConnectionUrl(url);
      expect('problems' in parsed && parsed.problems).toHaveLength(1);
      const [problem] = 'problems' in parsed ? parsed.problems : [];
      expect(problem).toMatch(/^is "postgres:\/\/cdc:\*\*\*@db\.example\.com(:5432)?\/shop", whose user name or password holds "@", "#", "\/" or "\?" unencoded, so its host cannot be told; /);
      expect(problem.endsWith(ENCODE)).toBe(true);
    },
  );

  it('accepts the same password percent-encoded, an unencoded "@" alone, and "@" in a query value', () => {
    const encoded = parseConnectionUrl(`postgres://cdc:${encodeURIComponent('pa@ss#w/rd?')}@db.example.com/shop`);
    expect('parts' in encoded && [encoded.parts.host, encoded.parts.password]).toStrictEqual(['db.example.com', 'pa@ss#w/rd?']);
    const at = parseConnectionUrl('postgres://cdc:p@ss@db.example.com/shop');
    expect('parts' in at && [at.parts.host, at.parts.password]).toStrictEqual(['db.example.com', 'p@ss']);
    const query = parseConnectionUrl('postgres://db.example.com/shop?application_name=cdc@prod');
    expect('parts' in query && [query.parts.host, query.parts.applicationName]).toStrictEqual(['db.example.com', 'cdc@prod']);
  });
});

describe('connectionUrlFor', () => {
  it('writes a URL that parses back to the same connection', () => {
    const url = connectionUrlFor(CONNECTION);
    expect(url).toBe('postgres://cdc%40corp:p%40ss%2Fw%3Ard@db.example.com:5433/shop%20db?sslmode=require&application_name=pgcdc-orders&connect_timeout=5');
    const parsed = parseConnectionUrl(url);
    expect('parts' in parsed && parsed.parts).toMatchObject({ host: 'db.example.com', port: 5433, database: 'shop db', user: 'cdc@corp', password: 'p@ss/w:rd', sslMode: 'require' });
  });

  it('writes IPv6 hosts in brackets, sockets as a host parameter, no password when there is none', () => {
    expect(connectionUrlFor({ ...CONNECTION, host: '::1', password: undefined })).toBe(
      'postgres://cdc%40corp@[::1]:5433/shop%20db?sslmode=require&application_name=pgcdc-orders&connect_timeout=5',
    );
    const socketUrl = connectionUrlFor({ ...CONNECTION, host: '/var/run/postgresql', password: undefined });
    expect(socketUrl).toBe('postgres://cdc%40corp@/shop%20db?host=%2Fvar%2Frun%2Fpostgresql&port=5433&sslmode=require&application_name=pgcdc-orders&connect_timeout=5');
    const parsed = parseConnectionUrl(socketUrl);
    expect('parts' in parsed && [parsed.parts.host, parsed.parts.port, parsed.parts.user, parsed.parts.database]).toStrictEqual(['/var/run/postgresql', 5433, 'cdc@corp', 'shop db']);
  });
});

describe('pgClientConfig', () => {
  const pem = { sslRootCert: 'CA', sslCert: 'CERT', sslKey: 'KEY' };
  const ssl = (sslMode: SslMode, extra: Partial<ConnectionConfig> = {}) => pgClientConfig({ ...CONNECTION, sslMode, ...extra }).ssl;

  it('passes the connection settings', () => {
    const { ssl: _ssl, ...rest } = pgClientConfig(CONNECTION);
    expect(rest).toStrictEqual({
      host: 'db.example.com',
      port: 5433,
      database: 'shop db',
      user: 'cdc@corp',
      password: 'p@ss/w:rd',
      application_name: 'pgcdc-orders',
      connectionTimeoutMillis: 4500,
    });
  });

  it('maps each sslmode to TLS options', () => {
    expect(ssl('disable')).toBe(false);
    expect(ssl('allow')).toBe(false);
    expect(ssl('prefer')).toBe(false);
    expect(ssl('require', pem)).toStrictEqual({ ca: 'CA', cert: 'CERT', key: 'KEY', rejectUnauthorized: false });
    const verifyCa = ssl('verify-ca', pem) as { checkServerIdentity: () => unknown; rejectUnauthorized: boolean; ca: string };
    expect([verifyCa.rejectUnauthorized, verifyCa.ca, verifyCa.checkServerIdentity()]).toStrictEqual([true, 'CA', undefined]);
    expect(ssl('verify-full', pem)).toStrictEqual({ ca: 'CA', cert: 'CERT', key: 'KEY', rejectUnauthorized: true });
    expect(ssl('verify-full', { host: '/var/run/postgresql' })).toBe(false);
  });
});
