/**
 * The dead-letter contract: where an event that could not be delivered is set aside, with the
 * error, so the stream can go on without dropping it silently. `add` resolves only once the
 * letters are durable (only then does the source acknowledge past them).
 */

/** One event set aside. */
export interface DeadLetter {
  /** The event's stable id (the same when the event is delivered again after a restart). */
  readonly id: string;
  /** The event as JSON text. */
  readonly event: Buffer;
  /** Why it could not be delivered. */
  readonly error: string;
  /** Sends tried (0 when it was never sent, e.g. too large). */
  readonly attempts: number;
  readonly failedAt: Date;
}

export interface DeadLetterStore {
  /** Where letters go, for logs and messages (a path, a table). */
  readonly description: string;
  open(): Promise<void>;
  /** Stores letters durably. */
  add(letters: readonly DeadLetter[]): Promise<void>;
  close(): Promise<void>;
}

