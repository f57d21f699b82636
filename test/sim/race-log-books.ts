/**
 * What a race test knows of each log of a WalManager: a RaceLedger per
 * log (record ids unique across logs, so a record read from the wrong log
 * is caught), and bounds on the log's nextOffset that hold while appends
 * run: at least one past its highest acknowledged offset, at most the
 * number of records whose append was called and not (yet known) rejected,
 * since offsets are dense from 0 and a rejected append takes none.
 */
import { RaceLedger } from './race-ledger.js';
import { RecordIdSource } from './tagged-records.js';

export class LogBook {
  readonly key: string;
  readonly topic: string;
  readonly partition: number;
  readonly ledger: RaceLedger;
  #calledCount = 0;
  #rejectedCount = 0;
  #acknowledgedNext = 0;

  constructor(topic: string, partition: number, ids: RecordIdSource) {
    this.topic = topic;
    this.partition = partition;
    this.key = `${topic}/${partition}`;
    this.ledger = new RaceLedger(ids);
  }

  /** New records for an append of these sizes, counted as called. */
  newRecords(sizesBytes: readonly number[], generation: number): { readonly id: number; readonly data: Buffer }[] {
    this.#calledCount += sizesBytes.length;
    return sizesBytes.map((sizeBytes) => this.ledger.newRecord(sizeBytes, generation));
  }

  acknowledged(label: string, id: number, offset: number): void {
    if (offset >= this.nextOffsetMax) this.ledger.problem(label, `${this.key}: acknowledged offset ${offset}, but only ${this.nextOffsetMax} record(s) were appended and not refused`);
    this.ledger.acknowledged(label, id, offset);
    this.#acknowledgedNext = Math.max(this.#acknowledgedNext, offset + 1);
  }

  rejected(ids: readonly number[]): void {
    this.#rejectedCount += ids.length;
    for (const id of ids) this.ledger.rejected(id);
  }

  /** The log's nextOffset is at least this: one past its highest acknowledged offset. */
  get nextOffsetMin(): number {
    return this.#acknowledgedNext;
  }

  /** The log's nextOffset is at most this. */
  get nextOffsetMax(): number {
    return this.#calledCount - this.#rejectedCount;
  }
}

/** The books of every log of one manager, made on first use. */
export class LogBooks {
  readonly #ids = new RecordIdSource();
  readonly #books = new Map<string, LogBook>();

  of(topic: string, partition: number): LogBook {
    const key = `${topic}/${partition}`;
    let book = this.#books.get(key);
    if (book === undefined) {
      book = new LogBook(topic, partition, this.#ids);
      this.#books.set(key, book);
    }
    return book;
  }

  all(): LogBook[] {
    return [...this.#books.values()];
  }
}
