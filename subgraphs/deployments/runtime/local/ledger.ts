import {
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { groupMembers, terminateGroup } from './processes';

/**
 * Process groups are detached so a kill takes a whole tree, which also means they outlive
 * Construct when it dies without a goodbye (SIGKILL, OOM, a crash): a build would run on beside
 * its retry, an app would keep its port forever. Each group is written down here while it runs;
 * the next runtime on the same folder kills the groups whose owner is gone.
 */
export class ProcessLedger {
  readonly #owner = currentProcess();

  constructor(private readonly dir: string) {}

  /** Writes down a group this process started, with the folder it runs in. */
  record(pgid: number, cwd: string): void {
    try {
      // Compared later with /proc/<pid>/cwd, which is a real path.
      const entry: LedgerEntry = { pgid, cwd: realpathSync(cwd), owner: this.#owner };
      mkdirSync(this.dir, { recursive: true });
      writeFileSync(join(this.dir, `${pgid}.json`), JSON.stringify(entry));
    } catch {
      // Without its entry a group is only at risk if Construct also dies while it runs.
    }
  }

  forget(pgid: number): void {
    rmSync(join(this.dir, `${pgid}.json`), { force: true });
  }

  /**
   * Kills what a previous, dead Construct process left running. A group is killed only when it
   * is still recognisably ours (a member runs in the recorded folder), since its id may have
   * been reused by something else since. Returns how many groups were killed.
   */
  async reap(graceMs: number): Promise<number> {
    let files: string[];
    try {
      files = await readdir(this.dir);
    } catch {
      return 0;
    }
    let killed = 0;
    for (const file of files.filter((name) => name.endsWith('.json'))) {
      const path = join(this.dir, file);
      let entry: LedgerEntry;
      try {
        entry = JSON.parse(await readFile(path, 'utf8')) as LedgerEntry;
      } catch {
        await rm(path, { force: true });
        continue;
      }
      if (isAlive(entry.owner)) continue;
      if (stillOurs(entry)) {
        await terminateGroup(entry.pgid, graceMs);
        killed += 1;
      }
      await rm(path, { force: true });
    }
    return killed;
  }
}

interface Owner {
  pid: number;
  /** The owner's start time (Linux clock ticks since boot), so a reused pid is not mistaken for it. */
  startTime: string | null;
}

interface LedgerEntry {
  pgid: number;
  cwd: string;
  owner: Owner;
}

function currentProcess(): Owner {
  return { pid: process.pid, startTime: startTimeOf(process.pid) };
}

function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 of "pid (comm) state …"; comm may hold spaces, so count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function isAlive(owner: Owner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return owner.startTime === null || startTimeOf(owner.pid) === owner.startTime;
}

function stillOurs(entry: LedgerEntry): boolean {
  return groupMembers(entry.pgid).some((pid) => {
    try {
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      return cwd === entry.cwd || cwd.startsWith(entry.cwd + sep);
    } catch {
      return false;
    }
  });
}

/** For tests: the groups written down. */
export function ledgerEntries(dir: string): number[] {
  try {
    return readdirSync(dir)
      .filter((name) => name.endsWith('.json'))
      .map((name) => Number.parseInt(name, 10));
  } catch {
    return [];
  }
}
