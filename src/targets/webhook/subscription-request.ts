/**
 * Reads the JSON body of a subscribe or unsubscribe request (pgstream's shape:
 * `{"url", "schema", "table", "event_types"}`, empty or missing schema, table and event types
 * meaning "all") into a subscription key and operations, or says in one sentence what is wrong.
 */
import { EVENT_TYPE_OPERATIONS, WEBHOOK_OPERATIONS, type SubscriptionKey, type WebhookOperation } from './webhook-subscription.js';

/** A valid request: what it subscribes to (or unsubscribes from). */
export interface SubscriptionRequest {
  readonly key: SubscriptionKey;
  readonly eventTypes: readonly WebhookOperation[];
}

export type SubscriptionRequestReading = { readonly ok: true; readonly request: SubscriptionRequest } | { readonly ok: false; readonly problem: string };

const KEYS = ['url', 'schema', 'table', 'event_types'];
const EVENT_TYPES_EXPECTED = `one of ${WEBHOOK_OPERATIONS.join(', ')} (Debezium's op; schema: schema changes) or I, U, D, T (pgstream's)`;

/**
 * The request a parsed JSON body holds.
 *
 * @example
 * readSubscriptionRequest({ url: 'https://hooks.example.com/x', schema: 'public', event_types: ['I', 'u'] });
 * // { ok: true, request: { key: { url: 'https://hooks.example.com/x', schema: 'public', table: '' }, eventTypes: ['c', 'u', 'r'] } }
 */
export function readSubscriptionRequest(body: unknown): SubscriptionRequestReading {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { ok: false, problem: `the body is ${Array.isArray(body) ? 'a list' : JSON.stringify(body)}; expected a JSON object {"url": …, "schema": …, "table": …, "event_types": […]}` };
  }
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).find((key) => !KEYS.includes(key));
  if (unknown !== undefined) return { ok: false, problem: `unknown key ${JSON.stringify(unknown)}; expected ${KEYS.join(', ')}` };

  const url = readUrl(fields.url);
  if (typeof url !== 'object') return { ok: false, problem: url };
  const schema = readName('schema', fields.schema);
  if (schema.problem !== undefined) return { ok: false, problem: schema.problem };
  const table = readName('table', fields.table);
  if (table.problem !== undefined) return { ok: false, problem: table.problem };
  const eventTypes = readEventTypes(fields.event_types);
  if (!Array.isArray(eventTypes)) return { ok: false, problem: eventTypes as string };
  return { ok: true, request: { key: { url: url.href, schema: schema.name, table: table.name }, eventTypes } };
}

function readUrl(value: unknown): { href: string } | string {
  const expected = 'expected an http:// or https:// URL, e.g. "https://hooks.example.com/orders"';
  if (value === undefined || value === null || value === '') return `url is missing; ${expected}`;
  if (typeof value !== 'string') return `url is ${JSON.stringify(value)}; ${expected}`;
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    return `url is ${JSON.stringify(value)}, which is not a URL; ${expected}`;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return `url is ${JSON.stringify(value)}; ${expected}`;
  return { href: value };
}

function readName(key: 'schema' | 'table', value: unknown): { name: string; problem?: undefined } | { name?: undefined; problem: string } {
  if (value === undefined || value === null) return { name: '' };
  if (typeof value !== 'string') return { problem: `${key} is ${JSON.stringify(value)}; expected the ${key} name as a string ("" or missing for every ${key})` };
  return { name: value };
}

/** The operations named, each once, in WEBHOOK_OPERATIONS order; empty for all. */
function readEventTypes(value: unknown): WebhookOperation[] | string {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) return `event_types is ${JSON.stringify(value)}; expected a list of ${EVENT_TYPES_EXPECTED} (empty or missing for every operation)`;
  const wanted = new Set<WebhookOperation>();
  for (const [index, type] of value.entries()) {
    const operations = typeof type === 'string' && Object.hasOwn(EVENT_TYPE_OPERATIONS, type) ? EVENT_TYPE_OPERATIONS[type] : undefined;
    if (operations === undefined) return `event_types[${index}] is ${JSON.stringify(type)}; expected ${EVENT_TYPES_EXPECTED}`;
    for (const operation of operations) wanted.add(operation);
  }
  return WEBHOOK_OPERATIONS.filter((operation) => wanted.has(operation));
}
