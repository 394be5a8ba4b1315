/**
 * The local provider's state files, written without blocking the event loop. A hand-over (on a
 * claim's heels) used to rewrite its instance's file with writeFileSync + renameSync, a quarter
 * of a warm claim's CPU; now it is a write the thread pool does, and the caller awaits it.
 *
 * Every write is still atomic (a temp file, then rename): a crash leaves the old content or the
 * new, never half. Writes to one file are coalesced: while one is on its way, later ones
 * collapse into a single next write of the newest content, so the file always ends with the
 * newest, and every caller's promise resolves once content at least as new as theirs is in
 * place. Synchronous writes (launch, terminate: rare, and their order matters) go straight to
 * disk and also become the newest content of any write in flight, so an older async rename
 * landing after them is overwritten again.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";

interface Pending {
  latest: string;
  /** The latest content is not on its way yet. */
  dirty: boolean;
  waiters: Array<{ resolve: () => void; reject: (err: unknown) => void }>;
}

export class StateFiles {
  private readonly pending = new Map<string, Pending>();
  private seq = 0;

  private tmp(file: string): string {
    return `${file}.${process.pid}.${++this.seq}.tmp`;
  }

  /** The file's newest content: what is on its way, else what is on disk (null: no file). */
  read(file: string): string | null {
    const p = this.pending.get(file);
    if (p) return p.latest;
    try {
      return readFileSync(file, "utf8");
    } catch {
      return null;
    }
  }

  /** Writes in the background; resolves when this content (or newer) is in place. */
  write(file: string, content: string): Promise<void> {
    let p = this.pending.get(file);
    const running = p !== undefined;
    if (!p) {
      p = { latest: content, dirty: true, waiters: [] };
      this.pending.set(file, p);
    } else {
      p.latest = content;
      p.dirty = true;
    }
    const done = new Promise<void>((resolve, reject) => p!.waiters.push({ resolve, reject }));
    if (!running) void this.drain(file, p);
    return done;
  }

  private async drain(file: string, p: Pending): Promise<void> {
    while (p.dirty) {
      p.dirty = false;
      const content = p.latest;
      const waiters = p.waiters.splice(0);
      const tmp = this.tmp(file);
      try {
        await writeFile(tmp, content);
        await rename(tmp, file);
        for (const w of waiters) w.resolve();
      } catch (err) {
        rmSync(tmp, { force: true });
        for (const w of waiters) w.reject(err);
      }
    }
    this.pending.delete(file);
    // Only `settle` waiters can be left here (a write marks the file dirty).
    for (const w of p.waiters.splice(0)) w.resolve();
  }

  /** Writes now (temp file + rename); a write in flight for the file rewrites this content after it lands. */
  writeSync(file: string, content: string): void {
    const tmp = this.tmp(file);
    writeFileSync(tmp, content);
    renameSync(tmp, file);
    const p = this.pending.get(file);
    if (p) {
      p.latest = content;
      p.dirty = true;
    }
  }

  /** Waits until nothing is on its way to the file (before removing it: a late rename would bring it back). */
  async settle(file: string): Promise<void> {
    while (this.pending.has(file)) {
      const p = this.pending.get(file)!;
      await new Promise<void>((resolve) => p.waiters.push({ resolve, reject: () => resolve() }));
    }
  }

  /** Removes the file once its writes have landed. */
  async remove(file: string): Promise<void> {
    await this.settle(file);
    rmSync(file, { force: true });
  }

  /** Waits for every write on its way (shutdown). */
  async settleAll(): Promise<void> {
    await Promise.all([...this.pending.keys()].map((f) => this.settle(f)));
  }
}
