/**
 * CRC-32 (the zlib / IEEE polynomial) of frames. The format fixes the
 * function, not the implementation: `node:zlib` computes it at 1.1-1.8 GB/s
 * on this machine, the optional `@node-rs/crc32` (SIMD) at about 8.8 GB/s,
 * and frame checksums were the largest cost of both appending and reading.
 * The accelerated one is used only if it is installed and agrees with zlib
 * on a test vector; otherwise zlib's is used. Both give the same bytes on disk.
 */
import { createRequire } from 'node:module';
import { crc32 as zlibCrc32 } from 'node:zlib';

type Crc32 = (data: Uint8Array) => number;

function loadAccelerated(): Crc32 | null {
  if (process.env['TIDEWAL_CRC32'] === 'zlib') return null;
  try {
    const require = createRequire(import.meta.url);
    const accelerated = (require('@node-rs/crc32') as { crc32?: (data: Uint8Array) => number }).crc32;
    if (typeof accelerated !== 'function') return null;
    const probe = Buffer.from('tidewal checksum probe: 0123456789abcdefghijklmnopqrstuvwxyz');
    for (const length of [0, 1, 7, 8, 31, probe.length]) {
      const part = probe.subarray(0, length);
      if (accelerated(part) >>> 0 !== zlibCrc32(part)) return null;
    }
    return (data) => accelerated(data) >>> 0;
  } catch {
    return null;
  }
}

const accelerated = loadAccelerated();

/** Which implementation computes checksums: `'@node-rs/crc32'` or `'node:zlib'`. */
export const CRC32_IMPLEMENTATION: string = accelerated === null ? 'node:zlib' : '@node-rs/crc32';

/** CRC-32 (zlib polynomial) of `data`, as an unsigned 32-bit integer. */
export const crc32: Crc32 = accelerated ?? ((data) => zlibCrc32(data));
