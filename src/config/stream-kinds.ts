/**
 * The document kinds pgcdc reads, one table entry each (apiVersion, kind, schema, builder), and
 * how the stream document is picked from a file and its kind recognised.
 */
import type { Document } from 'yaml';
import type { z } from 'zod';
import { type ConfigIssue, type ConfigProblems, describeValue } from './config-issues.js';
import type { KeyDocuments } from './key-documents.js';
import { buildNativeStream } from './native-stream-config.js';
import { NATIVE_API_VERSION, NATIVE_KIND, nativeStreamSchema } from './native-stream-schema.js';
import { nearestName } from './nearest-name.js';
import { buildSgStream } from './sgstream-stream-config.js';
import { SGSTREAM_API_VERSION, SGSTREAM_KIND, sgStreamSchema } from './sgstream-schema.js';
import type { StreamConfig } from './stream-config.js';
import { documentLine, type YamlSource } from './yaml-source.js';

/** What builders need besides the validated document. */
export interface BuildContext {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly secretsDir: string | undefined;
  /** Directory of ConfigMaps laid out `<name>/<key>` (the secrets directory when not given). */
  readonly configMapsDir: string | undefined;
  /** The ConfigMap and Secret documents of the file, looked in before the directories and the environment. */
  readonly keyDocuments: KeyDocuments;
  /** The document as written (after interpolation, before defaults), to tell given keys from defaults. */
  readonly raw: unknown;
}

/** A StreamConfig before the warnings gathered while loading are attached. */
export type BuiltStream = Omit<StreamConfig, 'warnings'>;

/** One document kind pgcdc reads. */
export interface StreamKind<S extends z.ZodType = z.ZodType> {
  readonly apiVersion: string;
  readonly kind: string;
  readonly schema: S;
  build(document: z.output<S>, context: BuildContext, problems: ConfigProblems): Promise<BuiltStream | undefined>;
}

function defineStreamKind<S extends z.ZodType>(kind: StreamKind<S>): StreamKind<S> {
  return kind;
}

export const STREAM_KINDS: readonly StreamKind[] = [
  defineStreamKind({ apiVersion: NATIVE_API_VERSION, kind: NATIVE_KIND, schema: nativeStreamSchema, build: buildNativeStream }),
  defineStreamKind({ apiVersion: SGSTREAM_API_VERSION, kind: SGSTREAM_KIND, schema: sgStreamSchema, build: buildSgStream }),
];

const SUPPORTED = STREAM_KINDS.map((kind) => `${kind.apiVersion} (kind: ${kind.kind})`).join(' or ');
const KINDS_HINT = `start the document with "apiVersion: ${NATIVE_API_VERSION}" and "kind: ${NATIVE_KIND}", or "apiVersion: ${SGSTREAM_API_VERSION}" and "kind: ${SGSTREAM_KIND}"`;

function header(value: unknown): { apiVersion: unknown; kind: unknown } {
  const map = value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  return { apiVersion: map.apiVersion, kind: map.kind };
}

/** The kind of a document, matched on apiVersion and kind. */
export function streamKindOf(value: unknown): StreamKind | undefined {
  const { apiVersion, kind } = header(value);
  return STREAM_KINDS.find((candidate) => candidate.apiVersion === apiVersion && candidate.kind === kind);
}

/** Why a document is not a stream document: its apiVersion or kind, with what is supported. */
export function unknownKindIssues(value: unknown): ConfigIssue[] {
  const issue = (path: string[], text: string): ConfigIssue[] => [{ path, text, hint: KINDS_HINT }];
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return issue([], `the document is ${describeValue(value)}; expected a map with apiVersion, kind, metadata and spec`);
  }
  const { apiVersion, kind } = header(value);
  const byVersion = STREAM_KINDS.find((candidate) => candidate.apiVersion === apiVersion);
  if (byVersion !== undefined) {
    const near = typeof kind === 'string' && nearestName(kind, [byVersion.kind]) !== undefined ? ` (did you mean ${byVersion.kind}?)` : '';
    return issue(['kind'], `kind is ${describeValue(kind)}; expected ${byVersion.kind} with apiVersion ${byVersion.apiVersion}${near}`);
  }
  const byKind = STREAM_KINDS.find((candidate) => candidate.kind === kind);
  if (byKind !== undefined) {
    return issue(['apiVersion'], `apiVersion is ${describeValue(apiVersion)}; expected ${byKind.apiVersion} with kind ${byKind.kind}`);
  }
  if (typeof kind === 'string' && apiVersion !== undefined) {
    return issue(['kind'], `the document is a ${String(apiVersion)} ${kind}, not a stream; expected ${SUPPORTED}`);
  }
  const near = typeof apiVersion === 'string' ? nearestName(apiVersion, STREAM_KINDS.map((candidate) => candidate.apiVersion)) : undefined;
  const suggestion = near === undefined ? '' : ` (did you mean ${near}?)`;
  return issue(['apiVersion'], `apiVersion is ${describeValue(apiVersion)}; expected ${SUPPORTED}${suggestion}`);
}

/**
 * The one stream document of a file and the other documents beside it (such as the Secret of a
 * pasted example); no stream document, or several, is a CONFIG_INVALID error.
 */
export function selectStreamDocument(source: YamlSource): { document: Document.Parsed; others: Document.Parsed[] } | { issues: ConfigIssue[] } {
  const documents = source.documents.filter((document) => document.toJS() != null);
  if (documents.length === 0) {
    return { issues: [{ path: [], text: `the file holds no document; expected a stream document: ${SUPPORTED}`, hint: KINDS_HINT }] };
  }
  const streams = documents.filter((document) => streamKindOf(document.toJS()) !== undefined);
  if (streams.length === 0 && documents.length === 1) return { issues: unknownKindIssues(documents[0].toJS()) };
  if (streams.length !== 1) {
    const lines = (streams.length === 0 ? documents : streams).map((document) => documentLine(source, document)).join(', ');
    const found = streams.length === 0 ? `${documents.length} documents (at lines ${lines}), none of them a stream` : `${streams.length} stream documents (at lines ${lines})`;
    return { issues: [{ path: [], text: `the file holds ${found}; expected exactly one stream document: ${SUPPORTED}`, hint: 'put each stream in a file of its own' }] };
  }
  return { document: streams[0], others: documents.filter((document) => document !== streams[0]) };
}

/** The warning for a document of the file pgcdc does not use: `the document at line 12 (v1 Service web) is ignored`. */
export function ignoredDocumentWarning(source: YamlSource, document: Document.Parsed): string {
  const value: unknown = document.toJS();
  const { apiVersion, kind } = header(value);
  const name = (value as { metadata?: { name?: unknown } }).metadata?.name;
  const what = [apiVersion, kind, name].filter((part) => typeof part === 'string').join(' ') || 'no kind';
  return `the document at line ${documentLine(source, document)} (${what}) is ignored`;
}
