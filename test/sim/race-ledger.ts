/**
 * The model of the Wal race test: what every operation was promised, kept
 * while the operations run concurrently, and checked against the log
 * reopened once they all settled. Problems are collected (not thrown), each
 * prefixed with the label of the operation that broke a promise, so that
 * one run reports everything it found.
 */
import type { Wal } from '../../src/log/wal.js';
import { RecordIdSource, recordId, taggedRecord } from './tagged-records.js';

/** A record a read or tail yielded: checked at the end against what its offset was acknowledged with. */
interface Observation {
  readonly label: string;
  readonly offset: number;
  readonly data: Buffer;
}

/** A sync() that resolved: every append called before it on the same log must end below `durableOffset`. */
interface SyncPromise {
  readonly label: string;
  readonly generation: number;
  readonly idsCalledBefore: number;
  readonly durableOffset: number;
}

export class RaceLedger {
  readonly problems: string[] = [];
  /** Ids of records, in call order; id n is the n-th record appended (batches count each record). */
  readonly #ids: RecordIdSource;
  readonly #dataOf = new Map<number, Buffer>();
  /** The log generation (opens so far) each record was appended to. */
  readonly #generationOf = new Map<number, number>();
  readonly #idAt = new Map<number, number>();
  readonly #offsetOf = new Map<number, number>();
  readonly #rejectedIds = new Set<number>();
  readonly #batches: number[][] = [];
  readonly #observations: Observation[] = [];
  readonly #syncs: SyncPromise[] = [];
  /** The largest offset passed to truncateBefore() so far: firstOffset may never pass it. */
  #truncationBound: number | null = null;

  /** @param ids where record ids come from: pass one source to the ledgers of several logs to keep ids unique across them */
  constructor(ids: RecordIdSource = new RecordIdSource()) {
    this.#ids = ids;
  }

  problem(label: string, message: string): void {
    this.problems.push(`${label}: ${message}`);
  }

  get acknowledgedCount(): number {
    return this.#idAt.size;
  }

  /** A new record's id and bytes, appended to log `generation`. */
  newRecord(sizeBytes: number, generation: number): { readonly id: number; readonly data: Buffer } {
    const id = this.#ids.take();
    const data = taggedRecord(id, sizeBytes);
    this.#dataOf.set(id, data);
    this.#generationOf.set(id, generation);
    return { id, data };
  }

  /** How many records were appended so far (to any log sharing the id source): sync() covers ids up to it. */
  get idsCalled(): number {
    return this.#ids.takenCount;
  }

  acknowledged(label: string, id: number, offset: number): void {
    const earlier = this.#idAt.get(offset);
    if (earlier !== undefined) this.problem(label, `offset ${offset} acknowledged twice (records ${earlier} and ${id})`);
    this.#idAt.set(offset, id);
    this.#offsetOf.set(id, offset);
  }

  rejected(id: number): void {
    this.#rejectedIds.add(id);
  }

  batchAcknowledged(ids: number[]): void {
    this.#batches.push(ids);
  }

  observed(label: string, offset: number, data: Uint8Array): void {
    this.#observations.push({ label, offset, data: Buffer.from(data) });
  }

  syncResolved(label: string, generation: number, idsCalledBefore: number, durableOffset: number): void {
    this.#syncs.push({ label, generation, idsCalledBefore, durableOffset });
  }

  truncationIssued(offset: number): void {
    this.#truncationBound = Math.max(this.#truncationBound ?? 0, offset);
  }

  /** firstOffset of a log may never pass the largest truncateBefore() offset issued so far (0 when none). */
  checkFirstOffset(label: string, firstOffset: number): void {
    const bound = this.#truncationBound ?? 0;
    if (firstOffset > bound) {
      const issued = this.#truncationBound === null ? 'no truncateBefore() issued' : `largest truncateBefore() issued ${bound}`;
      this.problem(label, `firstOffset ${firstOffset} with ${issued}`);
    }
  }

  #describe(id: number): string {
    return `record ${id}${this.#rejectedIds.has(id) ? ' (its append was rejected)' : ''}`;
  }

  /**
   * Once every operation settled: checks the syncs and observations, and
   * the log reopened after a clean close against every acknowledgement.
   * @param label names the log in problems found on it
   */
  async checkReopened(wal: Wal, label = 'reopened log'): Promise<void> {
    for (const sync of this.#syncs) {
      const uncovered: string[] = [];
      for (let id = 1; id <= sync.idsCalledBefore; id++) {
        const offset = this.#offsetOf.get(id);
        if (offset === undefined || this.#generationOf.get(id) !== sync.generation) continue;
        if (offset >= sync.durableOffset) uncovered.push(`record ${id} at offset ${offset}`);
      }
      if (uncovered.length > 0) {
        this.problem(sync.label, `resolved with durableOffset ${sync.durableOffset}, below ${uncovered.length} record(s) appended before the call: ${uncovered.slice(0, 3).join(', ')}${uncovered.length > 3 ? ', …' : ''}`);
      }
    }
    for (const observation of this.#observations) {
      const id = this.#idAt.get(observation.offset);
      const seen = recordId(observation.data);
      if (id === undefined) this.problem(observation.label, `yielded offset ${observation.offset} (${this.#describe(seen)}), never acknowledged`);
      else if (!observation.data.equals(this.#dataOf.get(id) ?? Buffer.alloc(0))) {
        this.problem(observation.label, `yielded offset ${observation.offset} with the bytes of ${this.#describe(seen)}, acknowledged for record ${id}`);
      }
    }

    const onDisk = new Map<number, Buffer>();
    let previous: number | null = null;
    try {
      for await (const record of wal.read()) {
        if (previous !== null && record.offset !== previous + 1) this.problem(label, `read skipped from ${previous} to ${record.offset}`);
        previous = record.offset;
        onDisk.set(record.offset, Buffer.from(record.data));
      }
    } catch (error) {
      this.problem(label, `read failed: ${String(error)}`);
    }
    const first = wal.firstOffset;
    const next = wal.nextOffset;
    this.checkFirstOffset(label, first);
    if (onDisk.size !== next - first) this.problem(label, `${onDisk.size} records read for offsets [${first}, ${next})`);
    for (const [offset, id] of this.#idAt) {
      if (offset < first) continue;
      const data = onDisk.get(offset);
      if (data === undefined) this.problem(label, `acknowledged offset ${offset} (record ${id}) is missing`);
      else if (!data.equals(this.#dataOf.get(id) ?? Buffer.alloc(0))) {
        this.problem(label, `offset ${offset} holds the bytes of ${this.#describe(recordId(data))}, acknowledged for record ${id}`);
      }
    }
    for (const [offset, data] of onDisk) {
      if (!this.#idAt.has(offset)) this.problem(label, `offset ${offset} (${this.#describe(recordId(data))}) was never acknowledged`);
    }
    for (const ids of this.#batches) {
      const offsets = ids.map((id) => this.#offsetOf.get(id) ?? -1);
      if ((offsets[0] ?? -1) < first) continue;
      const present = offsets.filter((offset) => onDisk.has(offset)).length;
      if (present !== 0 && present !== offsets.length) {
        this.problem(label, `batch of records ${ids[0]}..${ids[ids.length - 1]} is partly there (${present} of ${offsets.length})`);
      }
    }
  }
}
