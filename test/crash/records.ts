/**
 * Deterministic record contents for the crash test: the bytes of the record
 * at `offset` depend only on (seed, offset), so the parent can check every
 * record it finds, acknowledged or not, without being told what was written.
 */

/** A small, fast, seedable PRNG (mulberry32): good enough for test data. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return (value ^ (value >>> 14)) >>> 0;
  };
}

/** Mixes a 32-bit seed and an offset below 2^53 into one 32-bit value. */
function mix(seed: number, offset: number): number {
  const low = offset >>> 0;
  const high = Math.floor(offset / 2 ** 32) >>> 0;
  let hash = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ low;
  hash = Math.imul(hash ^ (hash >>> 16), 0xc2b2ae35) ^ high;
  hash = Math.imul(hash ^ (hash >>> 13), 0x27d4eb2f);
  return (hash ^ (hash >>> 16)) >>> 0;
}

/** Largest record the crash test writes. */
export const RECORD_SIZE_BYTES_MAX = 5000;

/**
 * Size of the record at `offset`: mostly small (so that groups hold many
 * records), sometimes up to {@link RECORD_SIZE_BYTES_MAX} (so that frames
 * cross pages and segments fill unevenly).
 */
export function recordSizeBytes(seed: number, offset: number): number {
  const random = prng(mix(seed, offset));
  const bucket = random() % 100;
  if (bucket < 60) return 1 + (random() % 200);
  if (bucket < 95) return 200 + (random() % 1800);
  return 2000 + (random() % (RECORD_SIZE_BYTES_MAX - 2000 + 1));
}

/** The bytes of the record at `offset` under `seed`. */
export function recordFor(seed: number, offset: number): Buffer {
  const sizeBytes = recordSizeBytes(seed, offset);
  const random = prng(mix(seed ^ 0x5bd1e995, offset));
  const words = new Uint32Array(Math.ceil(sizeBytes / 4));
  for (let index = 0; index < words.length; index += 1) words[index] = random();
  return Buffer.from(words.buffer, 0, sizeBytes);
}
