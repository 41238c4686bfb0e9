/**
 * The messages of the pgoutput logical replication protocol (versions 1 to 4), as decoded values.
 * Row data stays in the received bytes: a `TupleRef` points at a TupleData structure.
 */
import type { Lsn } from '../source/lsn.js';

/**
 * A TupleData structure inside `buf`, starting at its Int16 column count; or (kind `C`, pgcdc's
 * own) a COPY text row `[offset, end)` read by a snapshot.
 */
export interface TupleRef {
  readonly buf: Buffer;
  readonly offset: number;
  /** `K` (replica identity key columns), `O` (whole old row), `N` (new row), `C` (COPY text row). */
  readonly kind: 'K' | 'O' | 'N' | 'C';
  /** End of a `C` row. */
  readonly end?: number;
}

/** A column of a Relation message. */
export interface RelationColumn {
  readonly name: string;
  readonly typeOid: number;
  readonly typeModifier: number;
  /** Part of the replica identity (flag 1). */
  readonly isKey: boolean;
}

/** `xid` is set only inside streamed transactions (protocol ≥ 2). */
interface StreamedXid {
  readonly xid: number | undefined;
}

export interface BeginMessage {
  readonly tag: 'begin';
  readonly finalLsn: Lsn;
  readonly commitTimeMicros: number;
  readonly xid: number;
}

export interface CommitMessage {
  readonly tag: 'commit';
  readonly flags: number;
  readonly commitLsn: Lsn;
  readonly endLsn: Lsn;
  readonly commitTimeMicros: number;
}

export interface OriginMessage {
  readonly tag: 'origin';
  readonly originLsn: Lsn;
  readonly name: string;
}

export interface RelationMessage extends StreamedXid {
  readonly tag: 'relation';
  readonly oid: number;
  readonly schema: string;
  readonly table: string;
  /** `d` default, `n` nothing, `f` full, `i` index. */
  readonly replicaIdentity: string;
  readonly columns: readonly RelationColumn[];
}

export interface TypeMessage extends StreamedXid {
  readonly tag: 'type';
  readonly oid: number;
  readonly schema: string;
  readonly name: string;
}

export interface InsertMessage extends StreamedXid {
  readonly tag: 'insert';
  readonly relationOid: number;
  readonly newTuple: TupleRef;
}

export interface UpdateMessage extends StreamedXid {
  readonly tag: 'update';
  readonly relationOid: number;
  /** `K` when a replica identity column changed, `O` with REPLICA IDENTITY FULL, else null. */
  readonly oldTuple: TupleRef | null;
  readonly newTuple: TupleRef;
}

export interface DeleteMessage extends StreamedXid {
  readonly tag: 'delete';
  readonly relationOid: number;
  readonly oldTuple: TupleRef;
}

export interface TruncateMessage extends StreamedXid {
  readonly tag: 'truncate';
  readonly cascade: boolean;
  readonly restartIdentity: boolean;
  readonly relationOids: readonly number[];
}

export interface LogicalMessage extends StreamedXid {
  readonly tag: 'message';
  readonly transactional: boolean;
  readonly lsn: Lsn;
  readonly prefix: string;
  readonly content: Buffer;
}

export interface StreamStartMessage {
  readonly tag: 'stream_start';
  readonly xid: number;
  readonly firstSegment: boolean;
}

export interface StreamStopMessage {
  readonly tag: 'stream_stop';
}

export interface StreamCommitMessage {
  readonly tag: 'stream_commit';
  readonly xid: number;
  readonly flags: number;
  readonly commitLsn: Lsn;
  readonly endLsn: Lsn;
  readonly commitTimeMicros: number;
}

export interface StreamAbortMessage {
  readonly tag: 'stream_abort';
  readonly xid: number;
  readonly subXid: number;
  /** Only with protocol 4 and `streaming 'parallel'`. */
  readonly abortLsn: Lsn | undefined;
  readonly abortTimeMicros: number | undefined;
}

/** Two-phase messages (protocol ≥ 3 with a two-phase slot); pgcdc decodes them but does not request them. */
export interface BeginPrepareMessage {
  readonly tag: 'begin_prepare';
  readonly prepareLsn: Lsn;
  readonly endLsn: Lsn;
  readonly prepareTimeMicros: number;
  readonly xid: number;
  readonly gid: string;
}

export interface PrepareMessage {
  readonly tag: 'prepare' | 'stream_prepare';
  readonly flags: number;
  readonly prepareLsn: Lsn;
  readonly endLsn: Lsn;
  readonly prepareTimeMicros: number;
  readonly xid: number;
  readonly gid: string;
}

export interface CommitPreparedMessage {
  readonly tag: 'commit_prepared';
  readonly flags: number;
  readonly commitLsn: Lsn;
  readonly endLsn: Lsn;
  readonly commitTimeMicros: number;
  readonly xid: number;
  readonly gid: string;
}

export interface RollbackPreparedMessage {
  readonly tag: 'rollback_prepared';
  readonly flags: number;
  readonly prepareEndLsn: Lsn;
  readonly rollbackEndLsn: Lsn;
  readonly prepareTimeMicros: number;
  readonly rollbackTimeMicros: number;
  readonly xid: number;
  readonly gid: string;
}

export type PgoutputMessage =
  | BeginMessage
  | CommitMessage
  | OriginMessage
  | RelationMessage
  | TypeMessage
  | InsertMessage
  | UpdateMessage
  | DeleteMessage
  | TruncateMessage
  | LogicalMessage
  | StreamStartMessage
  | StreamStopMessage
  | StreamCommitMessage
  | StreamAbortMessage
  | BeginPrepareMessage
  | PrepareMessage
  | CommitPreparedMessage
  | RollbackPreparedMessage;

export type PgoutputTag = PgoutputMessage['tag'];
