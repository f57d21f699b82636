import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 as zlibCrc32 } from 'node:zlib';
import fc from 'fast-check';
import { crc32, CRC32_IMPLEMENTATION } from './checksum.js';

describe('checksum', () => {
  it(`crc32 (${CRC32_IMPLEMENTATION}) equals node:zlib's CRC-32 on arbitrary bytes, so the format does not depend on the implementation`, () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 70_000 }), fc.nat({ max: 64 }), (bytes, skip) => {
        const data = Buffer.from(bytes).subarray(Math.min(skip, bytes.length));
        assert.equal(crc32(data), zlibCrc32(data));
      }),
      { numRuns: 300 },
    );
  });

  it('crc32 of the standard check string is 0xCBF43926', () => {
    assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
  });
});
