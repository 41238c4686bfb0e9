/**
 * Encodes the frontend (client → server) messages pgcdc sends: startup, SSL request, password and
 * SASL responses, simple and extended queries (parameters as the `pg` client sends them), CopyData,
 * CopyFail, CopyDone and Terminate.
 */

const PROTOCOL_VERSION_3 = 196608;
const SSL_REQUEST_CODE = 80877103;

/** StartupMessage with the given parameters. */
export function startupMessage(parameters: Readonly<Record<string, string>>): Buffer {
  const body = Object.entries(parameters)
    .map(([key, value]) => `${key}\0${value}\0`)
    .join('');
  const bodyBytes = Buffer.from(`${body}\0`, 'utf8');
  const out = Buffer.allocUnsafe(8 + bodyBytes.length);
  out.writeInt32BE(out.length, 0);
  out.writeInt32BE(PROTOCOL_VERSION_3, 4);
  bodyBytes.copy(out, 8);
  return out;
}

/** SSLRequest: asks the server whether it accepts TLS. */
export function sslRequestMessage(): Buffer {
  const out = Buffer.allocUnsafe(8);
  out.writeInt32BE(8, 0);
  out.writeInt32BE(SSL_REQUEST_CODE, 4);
  return out;
}

/** A typed message with a raw body. */
export function typedMessage(type: string, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = type.charCodeAt(0);
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

/** PasswordMessage (cleartext or MD5 hash). */
export function passwordMessage(password: string): Buffer {
  return typedMessage('p', Buffer.from(`${password}\0`, 'utf8'));
}

/** SASLInitialResponse for a mechanism. */
export function saslInitialResponseMessage(mechanism: string, data: string): Buffer {
  const name = Buffer.from(`${mechanism}\0`, 'utf8');
  const payload = Buffer.from(data, 'utf8');
  const body = Buffer.allocUnsafe(name.length + 4 + payload.length);
  name.copy(body, 0);
  body.writeInt32BE(payload.length, name.length);
  payload.copy(body, name.length + 4);
  return typedMessage('p', body);
}

/** SASLResponse. */
export function saslResponseMessage(data: string): Buffer {
  return typedMessage('p', Buffer.from(data, 'utf8'));
}

/** Simple Query. */
export function queryMessage(sql: string): Buffer {
  return typedMessage('Q', Buffer.from(`${sql}\0`, 'utf8'));
}

/** Simple Query whose text is given as bytes (large generated statements). */
export function queryMessageOf(parts: readonly Buffer[]): Buffer[] {
  const length = parts.reduce((n, part) => n + part.length, 0);
  const header = Buffer.allocUnsafe(5);
  header[0] = 0x51; // Q
  header.writeInt32BE(4 + length + 1, 1);
  return [header, ...parts, Buffer.from([0])];
}

/**
 * One statement with parameters through the extended protocol: Parse (unnamed, types inferred),
 * Bind (every parameter and result in text), Describe, Execute, Sync.
 */
export function extendedQueryMessages(sql: string, params: readonly unknown[]): Buffer[] {
  const parse = Buffer.from(`\0${sql}\0\0\0`, 'utf8'); // statement "", text, 0 parameter types
  const values = params.map((value) => {
    const text = parameterText(value);
    return text === null ? null : Buffer.from(text, 'utf8');
  });
  const bind = Buffer.allocUnsafe(2 + 2 + 2 + values.reduce((n, v) => n + 4 + (v?.length ?? 0), 0) + 2);
  let offset = 0;
  bind[offset++] = 0; // portal ""
  bind[offset++] = 0; // statement ""
  offset = bind.writeInt16BE(0, offset); // all parameters in text
  offset = bind.writeInt16BE(values.length, offset);
  for (const value of values) {
    offset = bind.writeInt32BE(value === null ? -1 : value.length, offset);
    if (value) offset += value.copy(bind, offset);
  }
  bind.writeInt16BE(0, offset); // all results in text
  return [
    typedMessage('P', parse),
    typedMessage('B', bind),
    typedMessage('D', Buffer.from('P\0', 'latin1')),
    typedMessage('E', Buffer.from([0, 0, 0, 0, 0])),
    typedMessage('S', Buffer.alloc(0)),
  ];
}

/** A parameter as text, as the `pg` client would send it. */
function parameterText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) return arrayLiteral(value);
  if (Buffer.isBuffer(value)) return `\\x${value.toString('hex')}`;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** `{"a","b",NULL}`: an array parameter as PostgreSQL's array text. */
function arrayLiteral(values: readonly unknown[]): string {
  const items = values.map((value) => {
    if (Array.isArray(value)) return arrayLiteral(value);
    const text = parameterText(value);
    return text === null ? 'NULL' : `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  });
  return `{${items.join(',')}}`;
}

/** CopyFail with a reason. */
export function copyFailMessage(reason: string): Buffer {
  return typedMessage('f', Buffer.from(`${reason}\0`, 'utf8'));
}

/** CopyData carrying `payload`. */
export function copyDataMessage(payload: Buffer): Buffer {
  return typedMessage('d', payload);
}

/** CopyData carrying `payload`, as a header and the payload itself (not copied). */
export function copyDataParts(payload: Buffer): [Buffer, Buffer] {
  const header = Buffer.allocUnsafe(5);
  header[0] = 0x64; // d
  header.writeInt32BE(4 + payload.length, 1);
  return [header, payload];
}

/** CopyDone. */
export function copyDoneMessage(): Buffer {
  return typedMessage('c', Buffer.alloc(0));
}

/** Terminate. */
export function terminateMessage(): Buffer {
  return typedMessage('X', Buffer.alloc(0));
}
