/**
 * How the benchmark opens tidewal: one place that turns the CLI's choices
 * (fsync policy, preallocation, sync counting) into `Wal.open` options.
 */
import { Wal } from '../src/index.js';
import type { WalOptions } from '../src/index.js';
import type { SyncCounter } from './counting-file-system.js';
import { countingFileSystem } from './counting-file-system.js';

/** `default` leaves the option out, so the engine's own default is measured. */
export type PreallocateChoice = 'default' | 'on' | 'off';

export interface EngineConfig {
  readonly fsync: 'always' | 'os';
  readonly preallocate: PreallocateChoice;
  /** Counts data syncs through a wrapping FileSystem; `null` opens with the engine's own. */
  readonly counter: SyncCounter | null;
  /** Wal option `blockingWrites`. @default false */
  readonly blockingWrites?: boolean;
}

export function openEngine(dir: string, config: EngineConfig): Promise<Wal> {
  const base: WalOptions = { dir, fsync: config.fsync, ...(config.blockingWrites === true ? { blockingWrites: true } : {}) };
  const withPreallocate: WalOptions =
    config.preallocate === 'default' ? base : { ...base, preallocate: config.preallocate === 'on' };
  const options: WalOptions =
    config.counter === null ? withPreallocate : { ...withPreallocate, fileSystem: countingFileSystem(config.counter) };
  return Wal.open(options);
}

/** Short label for tables: `W1 [prealloc]`. */
export function preallocateLabel(choice: PreallocateChoice): string {
  switch (choice) {
    case 'default':
      return '';
    case 'on':
      return ' [prealloc]';
    case 'off':
      return ' [no prealloc]';
  }
}
