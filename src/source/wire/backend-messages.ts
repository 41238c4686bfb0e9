/**
 * Decodes the backend (server → client) messages that carry results: RowDescription and DataRow.
 */

/** A result column: its name and type. */
export interface ResultField {
  readonly name: string;
  readonly typeOid: number;
}

/** The fields of a RowDescription. */
export function parseRowDescription(buf: Buffer, start: number): ResultField[] {
  const count = buf.readInt16BE(start);
  const fields: ResultField[] = [];
  let offset = start + 2;
  for (let i = 0; i < count; i++) {
    const nul = buf.indexOf(0, offset);
    // After the name: table oid (4), column number (2), type oid (4), size (2), modifier (4), format (2).
    fields.push({ name: buf.toString('utf8', offset, nul), typeOid: buf.readUInt32BE(nul + 1 + 6) });
    offset = nul + 1 + 18;
  }
  return fields;
}

/** The values of a DataRow, as text (null for SQL NULL). */
export function parseDataRow(buf: Buffer, start: number): (string | null)[] {
  const count = buf.readInt16BE(start);
  const values: (string | null)[] = [];
  let offset = start + 2;
  for (let i = 0; i < count; i++) {
    const length = buf.readInt32BE(offset);
    offset += 4;
    if (length < 0) {
      values.push(null);
    } else {
      values.push(buf.toString('utf8', offset, offset + length));
      offset += length;
    }
  }
  return values;
}

/** The first words of a statement, to say in an error which one failed. */
export function firstWords(sql: string): string {
  const words = sql.trim().split(/\s+/).slice(0, 3).join(' ');
  return words.length > 60 ? `${words.slice(0, 60)}…` : words;
}
