/**
 * The raw reference, measured in the same run as tidewal so that ratios
 * mean something on a shared machine:
 *
 * (a) `ReferenceGroupCommitLog`: the smallest group-commit loop worth the
 *     name. Producers push into an array; one flusher issues one `fs.writev`
 *     and (when durable) one `fs.fdatasync` per batch through the callback
 *     API, resolves the batch, and starts on whatever queued meanwhile. No
 *     framing, no checksum, no preallocation, no backpressure.
 * (b) fio-style sequential figures: 1 KiB `writeSync` + `fdatasyncSync`
 *     in a loop (records/s), and one large buffered sequential write of a
 *     given size followed by one `fsync` (MB/s).
 * (c) a plain sequential read of files in 1 MiB blocks (MB/s).
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Appender } from './timed-loop.js';
import { randomPayload } from './timed-loop.js';
import type { LatencySamples } from './stats.js';

/** Blocks of the buffered write and the plain read: large enough that syscalls cost nothing. */
const BLOCK_SIZE_BYTES = 1024 * 1024;

/** (a) One writev + one fdatasync per batch; `durable: false` skips the fdatasync (the 'os' shape). */
export class ReferenceGroupCommitLog implements Appender {
  /** fdatasync calls so far. */
  syncCount: number;
  readonly #fd: number;
  readonly #durable: boolean;
  #filePosition: number;
  #pendingBuffers: Buffer[];
  #pendingResolves: Array<() => void>;
  #pendingRejects: Array<(error: Error) => void>;
  #flushing: boolean;
  #failure: Error | null;

  private constructor(fd: number, durable: boolean) {
    this.syncCount = 0;
    this.#fd = fd;
    this.#durable = durable;
    this.#filePosition = 0;
    this.#pendingBuffers = [];
    this.#pendingResolves = [];
    this.#pendingRejects = [];
    this.#flushing = false;
    this.#failure = null;
  }

  static async open(filePath: string, options: { readonly durable: boolean }): Promise<ReferenceGroupCommitLog> {
    // A raw fd, not a FileHandle: the callback API allocates less per call,
    // and a FileHandle would close the fd when it is garbage collected.
    const fd = await new Promise<number>((resolve, reject) =>
      fs.open(filePath, 'w', 0o644, (error, openedFd) => (error ? reject(error) : resolve(openedFd))),
    );
    return new ReferenceGroupCommitLog(fd, options.durable);
  }

  append(data: Buffer): Promise<void> {
    return this.#enqueue(data, null);
  }

  /** All of `datas` go into one batch and share one promise. */
  appendBatch(datas: Buffer[]): Promise<void> {
    return this.#enqueue(null, datas);
  }

  #enqueue(data: Buffer | null, datas: Buffer[] | null): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.#failure !== null) {
        reject(this.#failure);
        return;
      }
      if (data !== null) this.#pendingBuffers.push(data);
      if (datas !== null) for (const item of datas) this.#pendingBuffers.push(item);
      this.#pendingResolves.push(resolve);
      this.#pendingRejects.push(reject);
      if (!this.#flushing) this.#flush();
    });
  }

  #flush(): void {
    this.#flushing = true;
    const buffers = this.#pendingBuffers;
    const resolves = this.#pendingResolves;
    const rejects = this.#pendingRejects;
    this.#pendingBuffers = [];
    this.#pendingResolves = [];
    this.#pendingRejects = [];
    let sizeBytes = 0;
    for (const buffer of buffers) sizeBytes += buffer.length;
    const filePosition = this.#filePosition;
    this.#filePosition += sizeBytes;
    const finish = (error: Error | null): void => {
      if (error !== null) {
        this.#failure = error;
        for (const reject of rejects) reject(error);
        for (const reject of this.#pendingRejects) reject(error);
        return;
      }
      for (const resolve of resolves) resolve();
      if (this.#pendingBuffers.length > 0) this.#flush();
      else this.#flushing = false;
    };
    // libuv splits more than IOV_MAX buffers into several pwritev calls itself.
    fs.writev(this.#fd, buffers, filePosition, (writeError, bytesWritten) => {
      if (writeError !== null) return finish(writeError);
      if (bytesWritten !== sizeBytes) return finish(new Error(`short writev: ${bytesWritten} of ${sizeBytes} bytes`));
      if (!this.#durable) return finish(null);
      fs.fdatasync(this.#fd, (syncError) => {
        this.syncCount += 1;
        finish(syncError);
      });
    });
  }

  /** Waits for the batch in flight, then closes the file. */
  async close(): Promise<void> {
    while (this.#flushing && this.#failure === null) await new Promise((resolve) => setImmediate(resolve));
    await new Promise<void>((resolve, reject) => fs.close(this.#fd, (error) => (error ? reject(error) : resolve())));
  }
}

/**
 * (b) fio-style: `recordBytes` written with `writeSync`, each followed by
 * `fdatasyncSync`, until `durationMs` passes. What one thread of blocking
 * syscalls gets from this disk.
 */
export function runSyncWriteLoop(
  filePath: string,
  options: { readonly recordBytes: number; readonly durationMs: number; readonly samples: LatencySamples | null },
): { recordCount: number; elapsedMs: number } {
  const payload = randomPayload(options.recordBytes);
  const fd = fs.openSync(filePath, 'w');
  try {
    let recordCount = 0;
    let filePosition = 0;
    const startMs = performance.now();
    const deadlineMs = startMs + options.durationMs;
    for (;;) {
      const beforeMs = performance.now();
      if (beforeMs >= deadlineMs) break;
      fs.writeSync(fd, payload, 0, payload.length, filePosition);
      fs.fdatasyncSync(fd);
      options.samples?.recordMs(performance.now() - beforeMs);
      filePosition += payload.length;
      recordCount += 1;
    }
    return { recordCount, elapsedMs: performance.now() - startMs };
  } finally {
    fs.closeSync(fd);
  }
}

/** (b) `totalBytes` written sequentially in 1 MiB blocks through the page cache, then one fsync; the time includes the fsync. */
export function runBufferedSequentialWrite(filePath: string, totalBytes: number): { elapsedMs: number } {
  const block = randomPayload(BLOCK_SIZE_BYTES);
  const fd = fs.openSync(filePath, 'w');
  try {
    const startMs = performance.now();
    let writtenBytes = 0;
    while (writtenBytes < totalBytes) {
      const sizeBytes = Math.min(block.length, totalBytes - writtenBytes);
      writtenBytes += fs.writeSync(fd, block, 0, sizeBytes, writtenBytes);
    }
    fs.fsyncSync(fd);
    return { elapsedMs: performance.now() - startMs };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * (c) Every file of `dir` whose name ends with `suffix`, in name order,
 * read front to back in 1 MiB blocks with async `fs.read` into one buffer.
 */
export async function runPlainSequentialRead(
  dir: string,
  suffix: string,
): Promise<{ byteCount: number; fileCount: number; elapsedMs: number }> {
  const names = (await fs.promises.readdir(dir)).filter((name) => name.endsWith(suffix)).sort();
  const block = Buffer.allocUnsafe(BLOCK_SIZE_BYTES);
  const startMs = performance.now();
  let byteCount = 0;
  for (const name of names) {
    const fd = fs.openSync(path.join(dir, name), 'r');
    try {
      for (let filePosition = 0; ; ) {
        const bytesRead = await readBlock(fd, block, filePosition);
        if (bytesRead === 0) break;
        filePosition += bytesRead;
        byteCount += bytesRead;
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  return { byteCount, fileCount: names.length, elapsedMs: performance.now() - startMs };
}

function readBlock(fd: number, block: Buffer, filePosition: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.read(fd, block, 0, block.length, filePosition, (error, bytesRead) => (error ? reject(error) : resolve(bytesRead)));
  });
}

/** A file name for reference data inside a scratch folder. */
export function referenceFile(dir: string): string {
  return path.join(dir, 'reference.dat');
}
