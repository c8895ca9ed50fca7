// Where the CPU goes while a variant runs: this process (the bench client, the workers and the gateway), the
// Temporal server processes and the PostgreSQL processes, read from /proc (Linux; elsewhere only this process).
import { readdirSync, readFileSync } from 'node:fs';

export type CpuSample = { node: number; temporal: number; postgres: number };
const CPU_KINDS = ['node', 'temporal', 'postgres'] as const;

/** Clock ticks per second of /proc's utime and stime (USER_HZ: 100 on Linux everywhere that matters). */
const TICKS_PER_S = 100;

/** CPU milliseconds used so far by this process, by `temporal*` processes and by `postgres` processes. */
export function sampleCpu(): CpuSample {
  const self = process.cpuUsage();
  const out: CpuSample = { node: (self.user + self.system) / 1000, temporal: 0, postgres: 0 };
  let pids: string[] = [];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out; // no /proc: this process only
  }
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) state ppid …": comm may hold spaces; utime and stime are fields 14 and 15.
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const kind = comm.startsWith('temporal') || comm === 'server' ? 'temporal' : comm === 'postgres' ? 'postgres' : undefined;
    if (!kind) continue;
    const fields = stat.slice(close + 2).split(' ');
    out[kind] += ((Number(fields[11]) + Number(fields[12])) / TICKS_PER_S) * 1000;
  }
  return out;
}

/** What was used between two samples; at least 0 (a process that exited in between takes its CPU time with it). */
export function cpuSince(before: CpuSample, after: CpuSample = sampleCpu()): CpuSample {
  return Object.fromEntries(CPU_KINDS.map((k) => [k, Math.max(0, after[k] - before[k])])) as CpuSample;
}

export function addCpu(a: CpuSample, b: CpuSample): CpuSample {
  return Object.fromEntries(CPU_KINDS.map((k) => [k, a[k] + b[k]])) as CpuSample;
}

export function scaleCpu(c: CpuSample, by: number): CpuSample {
  return Object.fromEntries(CPU_KINDS.map((k) => [k, c[k] * by])) as CpuSample;
}

export const NO_CPU: CpuSample = { node: 0, temporal: 0, postgres: 0 };
