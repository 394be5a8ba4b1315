/**
 * The API token: kept in VS Code's SecretStorage (the OS keychain); when none is stored, the
 * environment variable RSTUDIO_POOL_TOKEN is used (headless and test use). Never logged.
 */
import type * as vscode from "vscode";
import { Emitter } from "../core/emitter";

const KEY = "rstudioPool.apiToken";
export const TOKEN_ENV = "RSTUDIO_POOL_TOKEN";

export class TokenStore {
  private readonly changed = new Emitter<void>();
  readonly onDidChange = this.changed.event;

  constructor(
    private readonly secrets: Pick<vscode.SecretStorage, "get" | "store" | "delete">,
    private readonly env: Record<string, string | undefined> = process.env,
  ) {}

  async get(): Promise<string | undefined> {
    return (await this.secrets.get(KEY)) || this.env[TOKEN_ENV]?.trim() || undefined;
  }

  async hasStored(): Promise<boolean> {
    return Boolean(await this.secrets.get(KEY));
  }

  async set(token: string): Promise<void> {
    await this.secrets.store(KEY, token.trim());
    this.changed.fire();
  }

  async clear(): Promise<void> {
    await this.secrets.delete(KEY);
    this.changed.fire();
  }

  dispose(): void {
    this.changed.dispose();
  }
}
