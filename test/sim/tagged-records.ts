/**
 * Record payloads that name themselves: the first 4 bytes hold the id of
 * the append that wrote them, the next 4 their size, the rest a pattern of
 * both. A record read back tells which append it came from, and whether
 * its bytes are whole.
 */
const HEADER_SIZE_BYTES = 8;

/** The payload of record `id`, `sizeBytes` long (at least the 8-byte header). */
export function taggedRecord(id: number, sizeBytes: number): Buffer {
  const data = Buffer.alloc(Math.max(HEADER_SIZE_BYTES, sizeBytes));
  data.writeUInt32BE(id, 0);
  data.writeUInt32BE(data.length, 4);
  for (let index = HEADER_SIZE_BYTES; index < data.length; index++) data[index] = (id * 31 + index) & 0xff;
  return data;
}

/** The id a payload names, or -1 when it is too short to name one. */
export function recordId(data: Uint8Array): number {
  if (data.length < HEADER_SIZE_BYTES) return -1;
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).readUInt32BE(0);
}

/**
 * Hands out record ids, 1, 2, 3, ...: one source shared by several ledgers
 * (one per log) keeps ids unique across logs, so a record read from the
 * wrong log names the log it was appended to.
 */
export class RecordIdSource {
  #nextId = 1;

  /** A new id. */
  take(): number {
    return this.#nextId++;
  }

  /** How many ids were taken so far (the ids 1 to this). */
  get takenCount(): number {
    return this.#nextId - 1;
  }
}
