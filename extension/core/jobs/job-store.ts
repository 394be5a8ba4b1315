/**
 * The latest list of my jobs as the backend reported it, for the Jobs node, the notifications
 * and the log channels. Like InstanceStore: refreshing is the Poller's; this only fetches,
 * keeps and announces.
 */
import type { JobView } from "../../../contract/jobs";
import type { BackendClient } from "../backend-client";
import { Emitter, type Log } from "../emitter";
import { describeFailure, ExtensionError, type Failure } from "../errors";
import { isJobActive } from "./job-tree-model";

export class JobStore {
  private list: JobView[] = [];
  private failure: Failure | null = null;
  private loaded = false;
  private readonly changed = new Emitter<readonly JobView[]>();
  readonly onDidChange = this.changed.event;

  constructor(
    private readonly client: Pick<BackendClient, "jobs">,
    private readonly log: Log,
  ) {}

  get jobs(): readonly JobView[] {
    return this.list;
  }
  get error(): Failure | null {
    return this.failure;
  }
  get hasLoaded(): boolean {
    return this.loaded;
  }
  /** Whether any job is queued, starting or running (the list is then polled often). */
  get hasActive(): boolean {
    return this.list.some(isJobActive);
  }

  find(id: string): JobView | undefined {
    return this.list.find((j) => j.jobId === id);
  }

  async refresh(): Promise<void> {
    try {
      this.list = await this.client.jobs();
      this.failure = null;
      this.loaded = true;
    } catch (err) {
      const f = describeFailure("list", "your jobs", err);
      const quiet = err instanceof ExtensionError && (err.code === "NOT_SIGNED_IN" || err.code === "NOT_FOUND");
      if (!quiet && f.message !== this.failure?.message) this.log.warn(f.message);
      this.failure = f;
      if (err instanceof ExtensionError && (err.code === "NOT_SIGNED_IN" || err.code === "UNAUTHORIZED")) this.list = [];
    }
    this.changed.fire(this.list);
  }

  /** A fresher copy of one job (after a submit, a cancel, the end of its log) without a round trip. */
  upsert(job: JobView): void {
    const i = this.list.findIndex((x) => x.jobId === job.jobId);
    this.list = i < 0 ? [job, ...this.list] : this.list.map((x, k) => (k === i ? job : x));
    this.changed.fire(this.list);
  }

  clear(): void {
    this.list = [];
    this.failure = null;
    this.loaded = false;
    this.changed.fire(this.list);
  }

  dispose(): void {
    this.changed.dispose();
  }
}
