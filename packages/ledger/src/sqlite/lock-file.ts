import fs from 'node:fs';

export interface LockFile {
  release(): void;
}

/**
 * One writer per store: the engine keeps balances in memory, so two processes writing one SQLite
 * file would each believe its own balances. The lock file holds the owner's pid; a lock left by a
 * process that died (a crash, SIGKILL) is taken over.
 */
export function acquireLockFile(lockPath: string): LockFile {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = fs.openSync(lockPath, 'wx');
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      return { release: () => releaseIfOwned(lockPath) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = readOwner(lockPath);
      if (owner !== undefined && owner !== process.pid && isAlive(owner)) {
        throw new Error(`the ledger store is open in another process (pid ${owner}): ${lockPath}`, {
          cause: error,
        });
      }
      if (owner === process.pid) {
        throw new Error(`the ledger store is already open in this process: ${lockPath}`, {
          cause: error,
        });
      }
      fs.rmSync(lockPath, { force: true });
    }
  }
  throw new Error(`could not take the ledger lock ${lockPath}`);
}

function readOwner(lockPath: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(lockPath, 'utf8'), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function releaseIfOwned(lockPath: string): void {
  if (readOwner(lockPath) === process.pid) fs.rmSync(lockPath, { force: true });
}
