/**
 * Packs a group of entries into one MessagePack array of arrays of strings, written straight from
 * the records (Redis's Lua has `cmsgpack.unpack`, in C): the append script receives one argument
 * instead of a couple of dozen per entry, so the client encodes one bulk string per group, and no
 * array is built per entry. The buffer is reused from group to group (the client copies it when
 * the command is written). Entries are array16 and the group array32, their counts filled in at
 * their end (MessagePack readers take any length form).
 */

/** A string packed once (field names). */
export type PackedString = Buffer;

export class EntryPacker {
  #buffer = Buffer.allocUnsafe(1 << 20);
  #at = 0;
  #entries = 0;
  /** Where the open entry's count goes, and its items so far. */
  #entryAt = -1;
  #items = 0;

  /** `text` packed, for `constant`. */
  static packed(text: string): PackedString {
    const packer = new EntryPacker();
    packer.string(text);
    return Buffer.from(packer.#buffer.subarray(0, packer.#at));
  }

  /** Starts a group (the previous one's bytes are written over). */
  begin(): void {
    this.#at = 0;
    this.#entries = 0;
    this.#room(5);
    this.#buffer[this.#at] = 0xdd;
    this.#at += 5;
  }

  beginEntry(): void {
    this.#room(3);
    this.#entryAt = this.#at;
    this.#buffer[this.#at] = 0xdc;
    this.#at += 3;
    this.#items = 0;
  }

  endEntry(): void {
    this.#buffer.writeUInt16BE(this.#items, this.#entryAt + 1);
    this.#entries++;
  }

  /** The group packed; valid until the next `begin`. */
  finish(): Buffer {
    this.#buffer.writeUInt32BE(this.#entries, 1);
    return this.#buffer.subarray(0, this.#at);
  }

  get entries(): number {
    return this.#entries;
  }

  /** A string packed by `packed`. */
  constant(packed: PackedString): void {
    this.#room(packed.length);
    this.#buffer.set(packed, this.#at);
    this.#at += packed.length;
    this.#items++;
  }

  /** A string (UTF-8); ASCII text of fewer than 32 characters is copied byte by byte. */
  string(text: string): void {
    const length = text.length;
    this.#room(5 + length * 3);
    const b = this.#buffer;
    if (length < 32) {
      let ascii = true;
      for (let i = 0; i < length; i++) {
        const code = text.charCodeAt(i);
        if (code > 0x7f) {
          ascii = false;
          break;
        }
        b[this.#at + 1 + i] = code;
      }
      if (ascii) {
        b[this.#at] = 0xa0 | length;
        this.#at += 1 + length;
        this.#items++;
        return;
      }
    }
    const start = this.#at + 5;
    const bytes = b.write(text, start, 'utf8');
    this.#header(bytes);
    if (this.#at !== start) b.copyWithin(this.#at, start, start + bytes);
    this.#at += bytes;
    this.#items++;
  }

  /** Bytes as a string (Lua strings are bytes). */
  bytes(value: Buffer): void {
    this.#room(5 + value.length);
    this.#header(value.length);
    this.#buffer.set(value, this.#at);
    this.#at += value.length;
    this.#items++;
  }

  #header(length: number): void {
    const b = this.#buffer;
    if (length < 32) b[this.#at++] = 0xa0 | length;
    else if (length < 0x100) {
      b[this.#at++] = 0xd9;
      b[this.#at++] = length;
    } else if (length < 0x10000) {
      b[this.#at] = 0xda;
      b.writeUInt16BE(length, this.#at + 1);
      this.#at += 3;
    } else {
      b[this.#at] = 0xdb;
      b.writeUInt32BE(length, this.#at + 1);
      this.#at += 5;
    }
  }

  #room(bytes: number): void {
    if (this.#at + bytes <= this.#buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#buffer.length * 2, this.#at + bytes));
    this.#buffer.copy(grown, 0, 0, this.#at);
    this.#buffer = grown;
  }
}
