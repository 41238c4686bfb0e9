/**
 * ConfigMap and Secret documents written in the stream's file next to the stream (as
 * `kubectl apply -f` takes them): matched by kind, name and namespace, and their keys read as
 * Kubernetes would mount them (Secret `data` base64-decoded, `stringData` as written; ConfigMap
 * `data` as written, `binaryData` base64-decoded). References look here before the directories and
 * the environment.
 */
import type { Document } from 'yaml';
import { documentLine, type YamlSource } from './yaml-source.js';

/** The kinds of documents that hold keys a reference can name. */
export type KeyDocumentKind = 'ConfigMap' | 'Secret';

const KEY_DOCUMENT_API_VERSION = 'v1';

/** A map of keys in a document, and whether its values are base64. */
interface KeySection {
  readonly field: string;
  readonly base64: boolean;
}

/** Where each kind keeps its keys; a later section wins for a key given twice (Kubernetes: `stringData` over `data`). */
const KEY_SECTIONS: Readonly<Record<KeyDocumentKind, readonly KeySection[]>> = {
  Secret: [
    { field: 'data', base64: true },
    { field: 'stringData', base64: false },
  ],
  ConfigMap: [
    { field: 'data', base64: false },
    { field: 'binaryData', base64: true },
  ],
};

/** One ConfigMap or Secret of the file. */
interface KeyDocument {
  readonly kind: KeyDocumentKind;
  readonly name: string;
  readonly namespace: string | undefined;
  readonly line: number;
  readonly value: Readonly<Record<string, unknown>>;
}

/** A key read from a document, or why it cannot be: the end of a sentence (`which …`) and a fix. */
export type KeyLookup = { readonly value: string } | { readonly problem: string; readonly hint: string };

/** A reference to a key, as secretKeyRef and configMapKeyRef have them. */
export interface KeyRef {
  readonly name: string;
  readonly key: string;
}

/** The ConfigMaps and Secrets of a stream file, seen from the stream (its namespace, if it has one). */
export class KeyDocuments {
  /** A file with no ConfigMap or Secret document. */
  static readonly NONE = new KeyDocuments([], undefined);

  readonly #documents: readonly KeyDocument[];
  readonly #streamNamespace: string | undefined;

  private constructor(documents: readonly KeyDocument[], streamNamespace: string | undefined) {
    this.#documents = documents;
    this.#streamNamespace = streamNamespace;
  }

  /**
   * The ConfigMap and Secret documents among `documents` of `source`, matched later against
   * references of a stream in `streamNamespace`; `others` are the documents that are neither.
   */
  static read(source: YamlSource, documents: readonly Document.Parsed[], streamNamespace: string | undefined): { keyDocuments: KeyDocuments; others: Document.Parsed[] } {
    const found: KeyDocument[] = [];
    const others: Document.Parsed[] = [];
    for (const document of documents) {
      const keyDocument = asKeyDocument(document.toJS(), documentLine(source, document));
      if (keyDocument === undefined) others.push(document);
      else found.push(keyDocument);
    }
    return { keyDocuments: new KeyDocuments(found, streamNamespace), others };
  }

  /**
   * The value of `ref` in the `kind` document it names, undefined when the file has no such
   * document; a problem when the document lacks the key, its value cannot be read, or the file
   * has two documents of that name.
   */
  lookup(kind: KeyDocumentKind, ref: KeyRef): KeyLookup | undefined {
    const matching = this.#documents.filter((document) => document.kind === kind && document.name === ref.name && this.#inNamespace(document));
    if (matching.length === 0) return undefined;
    if (matching.length > 1) {
      return {
        problem: `which the file defines more than once (the ${kind} documents at lines ${matching.map((document) => document.line).join(', ')})`,
        hint: `keep one ${kind} named "${ref.name}" in the file`,
      };
    }
    return readKey(matching[0], ref.key);
  }

  #inNamespace(document: KeyDocument): boolean {
    return document.namespace === undefined || this.#streamNamespace === undefined || document.namespace === this.#streamNamespace;
  }
}

/** `metadata.namespace` of a document, when it is a string. */
export function namespaceOf(value: unknown): string | undefined {
  const namespace = (asRecord(value)?.metadata as { namespace?: unknown } | undefined)?.namespace;
  return typeof namespace === 'string' ? namespace : undefined;
}

function asKeyDocument(value: unknown, line: number): KeyDocument | undefined {
  const record = asRecord(value);
  if (record === undefined || record.apiVersion !== KEY_DOCUMENT_API_VERSION) return undefined;
  const kind = record.kind;
  if (kind !== 'Secret' && kind !== 'ConfigMap') return undefined;
  const name = (asRecord(record.metadata) ?? {}).name;
  if (typeof name !== 'string') return undefined;
  return { kind, name, namespace: namespaceOf(record), line, value: record };
}

function readKey(document: KeyDocument, key: string): KeyLookup {
  const where = `the ${document.kind} document at line ${document.line}`;
  let found: { section: KeySection; value: unknown } | undefined;
  const keys = new Set<string>();
  for (const section of KEY_SECTIONS[document.kind]) {
    const entries = asRecord(document.value[section.field]) ?? {};
    for (const name of Object.keys(entries)) keys.add(name);
    if (Object.hasOwn(entries, key)) found = { section, value: entries[key] };
  }
  const fields = KEY_SECTIONS[document.kind].map((section) => section.field).join(' or ');
  if (found === undefined) {
    const listed = keys.size === 0 ? 'it has no keys' : `its keys: ${[...keys].join(', ')}`;
    return { problem: `which ${where} does not have (${listed})`, hint: `add "${key}" under ${fields} of ${document.kind} "${document.name}" at line ${document.line}, or refer to one of its keys` };
  }
  const { section, value } = found;
  const at = `${section.field}.${key}`;
  if (typeof value !== 'string') {
    return { problem: `whose ${at} in ${where} is ${typeName(value)}; expected a string`, hint: `quote the value of ${at} at line ${document.line}` };
  }
  if (!section.base64) return { value };
  const compact = value.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 !== 0) {
    const plain = KEY_SECTIONS[document.kind].find((other) => !other.base64)?.field;
    return { problem: `whose ${at} in ${where} is not base64`, hint: `write the value base64-encoded under ${section.field}, or as plain text under ${plain}` };
  }
  return { value: Buffer.from(compact, 'base64').toString('utf8') };
}

/** What a value is, without showing it (it may be a secret): `a number`, `a map`, `empty (null)`. */
function typeName(value: unknown): string {
  if (value === null || value === undefined) return 'empty (null)';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'a map' : `a ${typeof value}`;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}
