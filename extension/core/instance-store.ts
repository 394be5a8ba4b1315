/**
 * The latest list of my instances as the backend reported it, shared by the tree, the
 * keep-alive, the tunnels and the notifications. Refreshing is done by the Poller; this class
 * only fetches, keeps and announces.
 */
import type { InstanceView } from "../../contract";
import type { BackendClient } from "./backend-client";
import { Emitter, type Log } from "./emitter";
import { describeFailure, ExtensionError, type Failure } from "./errors";

export class InstanceStore {
  private list: InstanceView[] = [];
  private failure: Failure | null = null;
  private loaded = false;
  private readonly changed = new Emitter<InstanceView[]>();
  readonly onDidChange = this.changed.event;

  constructor(
    private readonly client: Pick<BackendClient, "instances">,
    private readonly log: Log,
  ) {}

  get instances(): readonly InstanceView[] {
    return this.list;
  }
  /** Why the last refresh failed, or null. */
  get error(): Failure | null {
    return this.failure;
  }
  get hasLoaded(): boolean {
    return this.loaded;
  }

  find(id: string): InstanceView | undefined {
    return this.list.find((i) => i.instanceId === id);
  }

  async refresh(): Promise<void> {
    try {
      this.list = await this.client.instances();
      this.failure = null;
      this.loaded = true;
    } catch (err) {
      const f = describeFailure("list", "your instances", err);
      if (!(err instanceof ExtensionError && err.code === "NOT_SIGNED_IN") && f.message !== this.failure?.message) this.log.warn(f.message);
      this.failure = f;
      if (err instanceof ExtensionError && (err.code === "NOT_SIGNED_IN" || err.code === "UNAUTHORIZED")) this.list = [];
    }
    this.changed.fire(this.list);
  }

  /** Puts a fresher copy of one instance in the list (after a claim or release) without a round trip. */
  upsert(instance: InstanceView): void {
    const i = this.list.findIndex((x) => x.instanceId === instance.instanceId);
    this.list = i < 0 ? [instance, ...this.list] : this.list.map((x, j) => (j === i ? instance : x));
    this.changed.fire(this.list);
  }

  clear(): void {
    this.list = [];
    this.failure = null;
    this.changed.fire(this.list);
  }

  dispose(): void {
    this.changed.dispose();
  }
}
