/**
 * Encodes the frontend (client → server) messages pgcdc sends: startup, SSL request, password and
 * SASL responses, simple queries, CopyData and Terminate.
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

/** CopyData carrying `payload`. */
export function copyDataMessage(payload: Buffer): Buffer {
  return typedMessage('d', payload);
}

/** CopyDone. */
export function copyDoneMessage(): Buffer {
  return typedMessage('c', Buffer.alloc(0));
}

/** Terminate. */
export function terminateMessage(): Buffer {
  return typedMessage('X', Buffer.alloc(0));
}
