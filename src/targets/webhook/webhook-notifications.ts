/**
 * Turns a batch of stream events into webhook notifications: each change is rendered once (the
 * Debezium change event, wrapped as pgstream wraps its events, `{"Data": …}`, unless the payload
 * is `debezium`), and paired with every URL subscribed to its schema, table and operation (a schema
 * change, op `schema`, goes to the subscriptions of its table that list no event types or `schema`). A
 * notification is one (change, URL) pair: its body is a view into the batch's one buffer, so a
 * change sent to several URLs is not copied, and its ordering key mixes the row's key with the URL,
 * so notifications of one row to one URL stay in order while other rows and URLs go in parallel.
 */
import type { WebhookPayload } from '../../config/stream-config.js';
import { JsonWriter } from '../../encoding/json-writer.js';
import { DebeziumJsonEncoder, type DebeziumEncoderOptions } from '../../events/debezium-json-encoder.js';
import { EventIds } from '../../events/event-ids.js';
import { recordKeyHash, textHash } from '../../events/event-key-hash.js';
import type { StreamEvent } from '../../events/stream-event.js';
import { BARRIER, type DispatchItems } from '../delivery/ordered-dispatch.js';
import type { SubscriptionSet, SubscriptionSource } from './subscription-set.js';

/** pgcdc's own tables (subscriptions, signals) are never notified, as pgstream skips its schema. */
const OWN_SCHEMA = 'pgcdc';
const FNV_PRIME = 0x01000193;

export interface WebhookRendererOptions extends Omit<DebeziumEncoderOptions, 'format' | 'framing' | 'tombstonesOnDelete'> {
  readonly payload: WebhookPayload;
  /** The subscriptions; read once per batch. */
  readonly subscriptions: SubscriptionSource;
}

/** The notifications of one batch, as the dispatcher and the sender see them. */
export class WebhookNotifications implements DispatchItems {
  readonly count: number;
  /** The URLs notified in this batch. */
  readonly urls: readonly string[];
  readonly #body: Buffer;
  /** Per change: where its body starts (one more at the end); its id. */
  readonly #starts: readonly number[];
  readonly #ids: readonly string[];
  /** Per notification: its change, its URL (an index into `urls`), its ordering key. */
  readonly #changes: readonly number[];
  readonly #urlIndexes: readonly number[];
  readonly #keys: readonly number[];

  constructor(rendered: { body: Buffer; starts: number[]; ids: string[]; urls: string[]; changes: number[]; urlIndexes: number[]; keys: number[] }) {
    this.count = rendered.changes.length;
    this.urls = rendered.urls;
    this.#body = rendered.body;
    this.#starts = rendered.starts;
    this.#ids = rendered.ids;
    this.#changes = rendered.changes;
    this.#urlIndexes = rendered.urlIndexes;
    this.#keys = rendered.keys;
  }

  keyOf(index: number): number {
    return this.#keys[index]!;
  }

  bytesOf(index: number): number {
    const change = this.#changes[index]!;
    return this.#starts[change + 1]! - this.#starts[change]!;
  }

  /** The request body of notification `index`. */
  body(index: number): Buffer {
    const change = this.#changes[index]!;
    return this.#body.subarray(this.#starts[change]!, this.#starts[change + 1]!);
  }

  /** The URL of notification `index`, as an index into `urls`. */
  urlIndex(index: number): number {
    return this.#urlIndexes[index]!;
  }

  url(index: number): string {
    return this.urls[this.#urlIndexes[index]!]!;
  }

  /** `<change id>@<url>`: stable across deliveries, and one per subscriber of a change. */
  id(index: number): string {
    return `${this.#ids[this.#changes[index]!]!}@${this.url(index)}`;
  }
}

export class WebhookRenderer {
  readonly #subscriptions: SubscriptionSource;
  readonly #encoder: DebeziumJsonEncoder;
  readonly #writer = new JsonWriter(1024 * 1024);
  readonly #eventIds = new EventIds();
  readonly #wrapped: boolean;
  /** Hash of each URL seen, to mix into ordering keys. */
  readonly #urlHashes = new Map<string, number>();
  // The batch being rendered.
  #set: SubscriptionSet | undefined;
  #starts: number[] = [];
  #ids: string[] = [];
  #urls: string[] = [];
  #urlIndex = new Map<string, number>();
  #changes: number[] = [];
  #urlIndexes: number[] = [];
  #keys: number[] = [];

  constructor(options: WebhookRendererOptions) {
    this.#subscriptions = options.subscriptions;
    this.#wrapped = options.payload === 'pgstream';
    this.#encoder = new DebeziumJsonEncoder({
      ...options,
      format: 'value',
      tombstonesOnDelete: false,
      framing: { open: (w, op, event) => this.#open(w, op, event), close: this.#wrapped ? '}\n' : '\n' },
    });
  }

  /** The notifications of `events` for the subscriptions held now, in commit order. */
  render(events: readonly StreamEvent[]): WebhookNotifications {
    this.#set = this.#subscriptions.current();
    this.#starts = [];
    this.#ids = [];
    this.#urls = [];
    this.#urlIndex = new Map();
    this.#changes = [];
    this.#urlIndexes = [];
    this.#keys = [];
    const w = this.#writer;
    this.#encoder.encode(events, w);
    this.#starts.push(w.length);
    const body = w.takeCopy();
    this.#set = undefined;
    return new WebhookNotifications({ body, starts: this.#starts, ids: this.#ids, urls: this.#urls, changes: this.#changes, urlIndexes: this.#urlIndexes, keys: this.#keys });
  }

  /** Before each change: note where it starts and its id, pair it with its subscribers, write the envelope's head. */
  #open(w: JsonWriter, op: string, event: StreamEvent): void {
    const change = this.#starts.length;
    this.#starts.push(w.length);
    this.#ids.push(this.#eventIds.idOf(op, event));
    if (this.#wrapped) w.raw('{"Data":');
    if (op === 'BEGIN' || op === 'END') return;
    let urls: readonly string[];
    if (event.kind === 'row' || event.kind === 'truncate') {
      if (event.table.schema === OWN_SCHEMA) return;
      urls = this.#set!.urlsFor(event.table.schema, event.table.table, op);
    } else if (event.kind === 'schema') urls = this.#set!.urlsFor(event.schema, event.table, op);
    else return;
    if (urls.length === 0) return;
    const rowKey = recordKeyHash(op, event);
    for (const url of urls) {
      this.#changes.push(change);
      this.#urlIndexes.push(this.#indexOf(url));
      this.#keys.push(rowKey === BARRIER ? BARRIER : (Math.imul(rowKey ^ this.#hashOf(url), FNV_PRIME) >>> 0) & 0x7fffffff);
    }
  }

  #indexOf(url: string): number {
    let index = this.#urlIndex.get(url);
    if (index === undefined) {
      index = this.#urls.length;
      this.#urls.push(url);
      this.#urlIndex.set(url, index);
    }
    return index;
  }

  #hashOf(url: string): number {
    let hash = this.#urlHashes.get(url);
    if (hash === undefined) {
      hash = textHash(url);
      this.#urlHashes.set(url, hash);
    }
    return hash;
  }
}
