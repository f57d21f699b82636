/** Record content of the image test: a function of a number, checkable after recovery. */
export function imageRecord(seed: number): Buffer {
  const sizeBytes = 64 + (seed * 7919) % 2000;
  const record = Buffer.alloc(sizeBytes, seed % 251);
  record.writeUInt32LE(seed % 0x1_0000_0000, 0);
  return record;
}
