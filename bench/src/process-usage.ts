/**
 * Samples a child process's resident memory and CPU time from /proc while a benchmark run goes
 * on, and this process's own CPU time over the same run (the load generator's).
 */
import { readFileSync } from 'node:fs';

export interface ServerUsage {
  /** Largest resident set seen while the run went on; undefined without /proc. */
  readonly rssMaxBytes?: number;
  /** The child's CPU time over the run's wall time (100 = one core busy); undefined without /proc. */
  readonly cpuPercent?: number;
}

/** The kernel's clock ticks per second in /proc/<pid>/stat (USER_HZ): 100 on Linux. */
const clockTicksPerSecond = 100;

function readRssBytes(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

function readCpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/** Samples the child's RSS every 100 ms while a run goes on, and its CPU time over the run. */
export class ServerSampler {
  private timer: NodeJS.Timeout | undefined;
  private rssMax: number | undefined;
  private ticksAtStart: number | undefined;
  private startedAt = 0;
  private clientCpuAtStart = process.cpuUsage();

  constructor(private readonly pid: number) {}

  start(): void {
    this.rssMax = readRssBytes(this.pid);
    this.ticksAtStart = readCpuTicks(this.pid);
    this.startedAt = performance.now();
    this.clientCpuAtStart = process.cpuUsage();
    this.timer = setInterval(() => {
      const rss = readRssBytes(this.pid);
      if (rss !== undefined) this.rssMax = Math.max(this.rssMax ?? 0, rss);
    }, 100);
  }

  stop(): ServerUsage & { readonly clientCpuPercent: number } {
    clearInterval(this.timer);
    const seconds = (performance.now() - this.startedAt) / 1000;
    const client = process.cpuUsage(this.clientCpuAtStart);
    const clientCpuPercent = ((client.user + client.system) / 1e6 / seconds) * 100;
    const rss = readRssBytes(this.pid);
    const rssMaxBytes = rss === undefined ? this.rssMax : Math.max(this.rssMax ?? 0, rss);
    const ticks = readCpuTicks(this.pid);
    const cpuPercent =
      ticks === undefined || this.ticksAtStart === undefined
        ? undefined
        : ((ticks - this.ticksAtStart) / clockTicksPerSecond / seconds) * 100;
    return {
      clientCpuPercent,
      ...(rssMaxBytes === undefined ? {} : { rssMaxBytes }),
      ...(cpuPercent === undefined ? {} : { cpuPercent }),
    };
  }
}
