/**
 * A FileSystem that counts data syncs on its way to the real one, so the
 * report can show records per fsync (how well group commit groups). It wraps
 * with a Proxy rather than restating the interface, so methods the engine
 * adds later pass through untouched. A sync is an fdatasync call, or any
 * write on a file opened with O_DSYNC (one syscall doing both jobs).
 */
import type { FileHandle, FileSystem, OpenOptions } from '../src/index.js';
import { NodeFileSystem } from '../src/index.js';

export interface SyncCounter {
  /** fdatasync calls plus writes to O_DSYNC files. */
  syncCount: number;
  /** fsyncs of folders (creates and renames); not part of records per fsync. */
  dirSyncCount: number;
}

/** The real file system, counting into `counter`. */
export function countingFileSystem(counter: SyncCounter, inner: FileSystem = new NodeFileSystem()): FileSystem {
  return new Proxy(inner, {
    get(target, property) {
      if (property === 'open') {
        return async (path: string, options: OpenOptions): Promise<FileHandle> =>
          countingHandle(await target.open(path, options), counter, options.dsync === true);
      }
      if (property === 'syncDir') {
        return (path: string): Promise<void> => {
          counter.dirSyncCount += 1;
          return target.syncDir(path);
        };
      }
      return bindIfFunction(target, Reflect.get(target, property, target));
    },
  });
}

function countingHandle(inner: FileHandle, counter: SyncCounter, dsync: boolean): FileHandle {
  // Methods are bound once per handle, not once per call: this sits on the hot path.
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(inner, {
    get(target, property) {
      const cached = bound.get(property);
      if (cached !== undefined) return cached;
      const value = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      const counts = property === 'datasync' || (dsync && typeof property === 'string' && property.startsWith('write'));
      const method = value as (...args: unknown[]) => unknown;
      const wrapped = counts
        ? (...args: unknown[]): unknown => {
            counter.syncCount += 1;
            return method.apply(target, args);
          }
        : method.bind(target);
      bound.set(property, wrapped);
      return wrapped;
    },
    set(target, property, value) {
      return Reflect.set(target, property, value, target);
    },
  });
}

function bindIfFunction(target: object, value: unknown): unknown {
  return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
}
