/**
 * The machine a run was measured on. Absolute figures mean little without
 * it; the report names the Node version, CPU, kernel, disk and file system.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

export interface MachineInfo {
  readonly nodeVersion: string;
  readonly v8Version: string;
  readonly platform: string;
  readonly kernel: string;
  readonly cpuModel: string;
  readonly cpuCount: number;
  readonly memoryBytes: number;
  readonly fileSystem: string;
  readonly device: string;
  readonly scratchDir: string;
  readonly uvThreadpoolSize: string;
  readonly uvUseIoUring: string;
  readonly root: boolean;
}

export function describeMachine(scratchDir: string): MachineInfo {
  const cpus = os.cpus();
  const mount = findMount(scratchDir);
  return {
    nodeVersion: process.version,
    v8Version: process.versions.v8,
    platform: `${os.platform()} ${os.arch()}`,
    kernel: os.release(),
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cpuCount: cpus.length,
    memoryBytes: os.totalmem(),
    fileSystem: mount.fileSystem,
    device: mount.device,
    scratchDir,
    uvThreadpoolSize: process.env['UV_THREADPOOL_SIZE'] ?? '(default 4)',
    uvUseIoUring: process.env['UV_USE_IO_URING'] ?? '(unset)',
    root: typeof process.getuid === 'function' && process.getuid() === 0,
  };
}

/** File system type and device of the mount holding `dir`: findmnt, else the longest match in /proc/mounts. */
function findMount(dir: string): { fileSystem: string; device: string } {
  try {
    const output = execFileSync('findmnt', ['-no', 'FSTYPE,SOURCE', '-T', dir], { encoding: 'utf8' }).trim();
    const [fileSystem, device] = output.split(/\s+/);
    if (fileSystem !== undefined && device !== undefined) return { fileSystem, device };
  } catch {
    // findmnt is missing or failed; fall back to /proc/mounts below.
  }
  try {
    let best = { mountPoint: '', fileSystem: 'unknown', device: 'unknown' };
    for (const line of fs.readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [device, mountPoint, fileSystem] = line.split(' ');
      if (device === undefined || mountPoint === undefined || fileSystem === undefined) continue;
      const inside = dir === mountPoint || dir.startsWith(mountPoint.endsWith('/') ? mountPoint : `${mountPoint}/`);
      if (inside && mountPoint.length >= best.mountPoint.length) best = { mountPoint, fileSystem, device };
    }
    return { fileSystem: best.fileSystem, device: best.device };
  } catch {
    return { fileSystem: 'unknown', device: 'unknown' };
  }
}
