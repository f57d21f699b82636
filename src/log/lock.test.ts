import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wal } from './wal.js';
import { LockedError, WalError } from '../errors.js';
import { FaultyFileSystem } from '../io/faulty-file-system.js';
import type { FaultErrnoCode } from '../io/faulty-file-system.js';
import { NodeFileSystem } from '../io/node-file-system.js';

function temporaryDir(): string {
  return mkdtempSync(join(tmpdir(), 'tidewal-lock-'));
}

describe('ownership lock', () => {
  it('open() takes over an empty LOCK left by an opener killed before it wrote its pid', async () => {
    const dir = temporaryDir();
    try {
      await (await Wal.open({ dir })).close();
      await new Promise((resolve) => setTimeout(resolve, 10));
      writeFileSync(join(dir, 'LOCK'), '');
      const wal = await Wal.open({ dir });
      assert.match(readFileSync(join(dir, 'LOCK'), 'utf8'), new RegExp(`^${process.pid} `));
      await wal.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('open() takes over a LOCK whose process is gone', async () => {
    const dir = temporaryDir();
    try {
      const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
      const deadPid = Number(child.stdout.toString());
      await (await Wal.open({ dir })).close();
      await new Promise((resolve) => setTimeout(resolve, 10));
      writeFileSync(join(dir, 'LOCK'), `${deadPid} 1\n`);
      const wal = await Wal.open({ dir });
      await wal.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('open() fails with LOCKED while a live process other than this one holds the LOCK', async () => {
    const dir = temporaryDir();
    try {
      await (await Wal.open({ dir })).close();
      await new Promise((resolve) => setTimeout(resolve, 10));
      // pid 1 is always alive; its start time is read from /proc like any owner's.
      writeFileSync(join(dir, 'LOCK'), '1 \n');
      await assert.rejects(Wal.open({ dir }), (error: unknown) => error instanceof LockedError && error.code === 'LOCKED' && /process 1/.test(error.message));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('open() takes over a LOCK whose pid is alive but belongs to another process now (a recycled pid: its start time differs)', async () => {
    const dir = temporaryDir();
    try {
      await (await Wal.open({ dir })).close();
      // pid 1 is alive, and it started at boot, not 300 years of clock ticks after it: the owner that wrote this LOCK is gone.
      writeFileSync(join(dir, 'LOCK'), '1 999999999999\n');
      const wal = await Wal.open({ dir });
      assert.equal(readFileSync(join(dir, 'LOCK'), 'utf8').split(' ')[0], String(process.pid), 'the LOCK now names this process');
      await wal.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('open() takes over a LOCK naming this very process and its start time when it was written in an earlier boot (its boot id differs)', async () => {
    const dir = temporaryDir();
    try {
      await (await Wal.open({ dir })).close();
      // What this process writes, with the boot id of another boot: after a reboot the same pid and start tick can recur.
      const [pid, startTime] = ownLockLine(dir).split(' ');
      writeFileSync(join(dir, 'LOCK'), `${pid} ${startTime} 00000000-0000-4000-8000-000000000000\n`);
      const wal = await Wal.open({ dir });
      assert.equal(readFileSync(join(dir, 'LOCK'), 'utf8'), `${ownLockLine(dir)}\n`, 'the LOCK now holds this boot id and this folder');
      await wal.close();
      // The same line with this boot's id, or with no boot id or folder (a LOCK of an older version), is this process: LOCKED.
      for (const line of [ownLockLine(dir), `${pid} ${startTime} ${bootIdNow()}`, `${pid} ${startTime}`]) {
        writeFileSync(join(dir, 'LOCK'), `${line}\n`);
        await assert.rejects(Wal.open({ dir }), (error: unknown) => error instanceof LockedError && /by this process/.test(error.message), line);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a copy of a live log\'s folder, LOCK included (a backup), opens with its records while the original stays locked by its owner', async () => {
    const dir = temporaryDir();
    const copy = temporaryDir();
    try {
      const wal = await Wal.open({ dir, fsync: 'always' });
      for (let index = 0; index < 5; index++) await wal.append(`record ${index}`);
      cpSync(dir, copy, { recursive: true });
      assert.equal(readFileSync(join(copy, 'LOCK'), 'utf8'), `${ownLockLine(dir)}\n`, 'the copy holds the live owner\'s LOCK');
      const copied = await Wal.open({ dir: copy });
      try {
        const records: string[] = [];
        for await (const record of copied.read({ from: 0 })) records.push(Buffer.from(record.data).toString());
        assert.deepEqual(records, [0, 1, 2, 3, 4].map((index) => `record ${index}`));
        assert.equal(readFileSync(join(copy, 'LOCK'), 'utf8'), `${ownLockLine(copy)}\n`, 'the copy\'s LOCK now names its own folder');
      } finally {
        await copied.close();
      }
      await assert.rejects(Wal.open({ dir }), (error: unknown) => error instanceof LockedError && /by this process/.test(error.message), 'the original is still locked');
      assert.equal((await wal.append('after the copy')).offset, 5, 'the original goes on');
      await wal.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it('a LOCK naming a live owner and another folder (pid 1, a folder identity that is not this one) is taken over', async () => {
    const dir = temporaryDir();
    try {
      await (await Wal.open({ dir })).close();
      const startTime = startTimeOf(1);
      writeFileSync(join(dir, 'LOCK'), `1 ${startTime} ${bootIdNow()} 1:1\n`);
      const wal = await Wal.open({ dir });
      assert.equal(readFileSync(join(dir, 'LOCK'), 'utf8'), `${ownLockLine(dir)}\n`);
      await wal.close();
      // The same owner naming this folder is live: LOCKED.
      writeFileSync(join(dir, 'LOCK'), `1 ${startTime} ${bootIdNow()} ${folderIdOf(dir)}\n`);
      await assert.rejects(Wal.open({ dir }), (error: unknown) => error instanceof LockedError && /process 1/.test(error.message));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('concurrent opens in one process that all find the same stale LOCK: exactly one takes it over, the others get LOCKED', async () => {
    const child = spawnSync(process.execPath, ['-e', '']);
    for (let trial = 0; trial < 5; trial++) {
      const dir = temporaryDir();
      try {
        await (await Wal.open({ dir })).close();
        writeFileSync(join(dir, 'LOCK'), `${child.pid} 1\n`);
        // The first removal of the stale LOCK is slow, so every opener that
        // can judge the LOCK meanwhile does: without one step per folder, all
        // of them find it stale and take it over one after another.
        const faulty = new FaultyFileSystem(new NodeFileSystem());
        faulty.arm({ call: 'unlink', path: /LOCK$/, delayMs: 100 });
        const opens = await Promise.allSettled(Array.from({ length: 8 }, () => Wal.open({ dir, fsync: 'os', fileSystem: faulty })));
        const owners = opens.flatMap((open) => (open.status === 'fulfilled' ? [open.value] : []));
        const refusals = opens.flatMap((open) => (open.status === 'rejected' ? [open.reason as unknown] : []));
        for (const owner of owners) await owner.close();
        assert.equal(owners.length, 1, `trial ${trial}: one owner`);
        assert.ok(refusals.every((error) => error instanceof LockedError), `trial ${trial}: the others are refused with LOCKED`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });
});

/** The LOCK line this process writes for `dir`: pid, start time in clock ticks since boot, boot id, the folder's `dev:ino`. */
function ownLockLine(dir: string): string {
  return `${process.pid} ${startTimeOf(process.pid)} ${bootIdNow()} ${folderIdOf(dir)}`;
}

/** Field 22 of /proc/<pid>/stat: the process's start time in clock ticks since boot. */
function startTimeOf(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
}

function bootIdNow(): string {
  return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
}

function folderIdOf(dir: string): string {
  const stat = statSync(dir, { bigint: true });
  return `${stat.dev}:${stat.ino}`;
}

describe('open errors', () => {
  it('an I/O error of an open says what to do about its errno code', async () => {
    const dir = temporaryDir();
    try {
      const remedies: Array<[FaultErrnoCode, RegExp]> = [
        ['ENOSPC', /\(ENOSPC\); free space on its disk \(or raise the quota\), then open again$/],
        ['EACCES', /\(EACCES\); give this process permission to read and write the folder and its files$/],
        ['EROFS', /\(EROFS\); its file system is mounted read-only: remount it read-write, or choose another folder$/],
        ['EMFILE', /\(EMFILE\); the process is out of file descriptors: raise its limit \(ulimit -n\), or lower maxOpenFiles \/ maxOpenLogs$/],
        ['EIO', /\(EIO\); the device reported an I\/O error: check the disk and the system log \(dmesg\) before opening again$/],
        ['EBUSY', /\(EBUSY\); check the folder exists, is writable and has space$/],
      ];
      for (const [code, remedy] of remedies) {
        const faulty = new FaultyFileSystem(new NodeFileSystem());
        faulty.arm({ call: 'syncDir', code });
        await assert.rejects(
          Wal.open({ dir: join(dir, code), fileSystem: faulty }),
          (error: unknown) => error instanceof WalError && error.code === 'WAL_FAILED' && remedy.test(error.message),
          code,
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('open() under a file is INVALID_ARGUMENT; a folder that cannot be created for an I/O error is WAL_FAILED; both carry the errno error as cause', async () => {
    const dir = temporaryDir();
    try {
      writeFileSync(join(dir, 'file'), 'not a folder');
      await assert.rejects(
        Wal.open({ dir: join(dir, 'file', 'log') }),
        (error: unknown) =>
          error instanceof WalError && error.code === 'INVALID_ARGUMENT' && (error.cause as NodeJS.ErrnoException).code === 'ENOTDIR',
      );
      const faulty = new FaultyFileSystem(new NodeFileSystem());
      faulty.arm({ call: 'syncDir', code: 'EIO' });
      await assert.rejects(
        Wal.open({ dir: join(dir, 'new', 'log'), fileSystem: faulty }),
        (error: unknown) => error instanceof WalError && error.code === 'WAL_FAILED' && (error.cause as NodeJS.ErrnoException).code === 'EIO',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
