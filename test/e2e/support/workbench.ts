/**
 * The VS Code workbench in a real browser (Debian Chromium driven by playwright-core), with the
 * few gestures the scenarios need, done the way a user does them: the activity bar, the command
 * palette (Control+Shift+P), a tree row's context menu, notifications, the status bar. Every
 * step can leave a numbered screenshot in the test's results folder.
 */
import path from "node:path";
import { chromium, type Browser, type Frame, type Locator, type Page } from "playwright-core";
import { chromiumPath } from "./harness";
import { sleep, waitFor } from "./processes";

const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const TREE_VIEW = '[id="workbench.view.extension.rstudioPool"]';

export class Workbench {
  private shots = 0;

  private constructor(
    private readonly browser: Browser,
    readonly page: Page,
    private readonly resultsDir: string,
  ) {}

  static async open(url: string, resultsDir: string): Promise<Workbench> {
    const browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS, headless: true });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      const wb = new Workbench(browser, page, resultsDir);
      await page.goto(url, { waitUntil: "domcontentloaded", timeout: 60_000 });
      await page.locator(".monaco-workbench").waitFor({ timeout: 60_000 });
      await wb.trustWorkspaceIfAsked();
      return wb;
    } catch (err) {
      await browser.close();
      throw err;
    }
  }

  /** A folder opened for the first time asks whether its authors are trusted: yes. */
  private async trustWorkspaceIfAsked(): Promise<void> {
    const yes = this.page.getByRole("button", { name: "Yes, I trust the authors" });
    try {
      await yes.waitFor({ timeout: 20_000 });
    } catch {
      return; // no dialog (trust already given or disabled)
    }
    await this.shot("workspace-trust-dialog");
    await yes.click();
    await yes.waitFor({ state: "hidden", timeout: 10_000 });
  }

  /** Saves a numbered screenshot; returns its path. */
  async shot(name: string): Promise<string> {
    this.shots += 1;
    const file = path.join(this.resultsDir, `${String(this.shots).padStart(2, "0")}-${name}.png`);
    await this.page.screenshot({ path: file });
    return file;
  }

  /** Clicks the RStudio Pool icon in the activity bar, unless its view is showing already. */
  async openPoolView(): Promise<Locator> {
    const view = this.page.locator(TREE_VIEW);
    if (!(await view.isVisible())) {
      await this.page.locator('.activitybar .action-item a[aria-label^="RStudio Pool"], .activitybar .action-item[aria-label^="RStudio Pool"]').first().click();
    }
    await view.waitFor({ timeout: 30_000 });
    return view;
  }

  /** The text of the view's welcome content (empty when the tree has rows instead). */
  async welcomeText(): Promise<string> {
    const welcome = this.page.locator(`${TREE_VIEW} .welcome-view-content`);
    if (!(await welcome.isVisible())) return "";
    return (await welcome.innerText()).trim();
  }

  /** The rows of the instances tree, as their accessible labels and visible texts. */
  async treeRows(): Promise<{ label: string; text: string }[]> {
    const rows = this.page.locator(`${TREE_VIEW} .monaco-list-row`);
    const out: { label: string; text: string }[] = [];
    for (const row of await rows.all()) {
      out.push({ label: (await row.getAttribute("aria-label")) ?? "", text: (await row.innerText()).replace(/\s+/g, " ").trim() });
    }
    return out;
  }

  treeRow(text: string | RegExp): Locator {
    return this.page.locator(`${TREE_VIEW} .monaco-list-row`).filter({ hasText: text });
  }

  /** Runs a command the way a user does: Control+Shift+P, type its title, Enter. */
  async runCommand(title: string): Promise<void> {
    await this.page.locator(".monaco-workbench").click({ position: { x: 640, y: 400 } }).catch(() => undefined);
    await this.page.keyboard.press("Control+Shift+P");
    const input = this.page.locator(".quick-input-widget input");
    await input.waitFor({ timeout: 10_000 });
    await input.fill(`>${title}`);
    const row = this.page.locator(".quick-input-widget .monaco-list-row").filter({ hasText: title }).first();
    await row.waitFor({ timeout: 10_000 });
    await this.shot(`palette-${title.replace(/\W+/g, "-").toLowerCase()}`);
    await this.page.keyboard.press("Enter");
  }

  /** Messages of the notification toasts showing now (progress notifications included). */
  async notifications(): Promise<string[]> {
    const items = this.page.locator(".notifications-toasts .notification-list-item");
    const out: string[] = [];
    for (const item of await items.all()) out.push((await item.innerText()).replace(/\s+/g, " ").trim());
    return out;
  }

  /** Waits for a toast whose text matches; returns that text once its fade-in is over. */
  async waitForNotification(match: RegExp, timeoutMs = 30_000): Promise<string> {
    const text = await waitFor(`a notification matching ${match}`, async () => (await this.notifications()).find((n) => match.test(n)), { timeoutMs, intervalMs: 100 });
    await sleep(400);
    return text;
  }

  /** The whole text of the RStudio Pool view (welcome content, view message, rows). */
  async viewText(): Promise<string> {
    return (await this.page.locator(TREE_VIEW).innerText()).replace(/\s+/g, " ").trim();
  }

  /** Clicks a button of the toast whose text matches. */
  async clickNotificationButton(match: RegExp, button: string): Promise<void> {
    const toast = this.page.locator(".notifications-toasts .notification-list-item").filter({ hasText: match }).first();
    await toast.getByRole("button", { name: button }).click();
  }

  async clearNotifications(): Promise<void> {
    for (const close of await this.page.locator(".notifications-toasts .codicon-notifications-clear").all()) {
      await close.click().catch(() => undefined);
    }
  }

  /** Texts of the status bar items. */
  async statusBar(): Promise<string[]> {
    const items = this.page.locator(".statusbar .statusbar-item");
    const out: string[] = [];
    for (const item of await items.all()) {
      const t = (await item.innerText()).replace(/\s+/g, " ").trim();
      if (t) out.push(t);
    }
    return out;
  }

  /** The nested frame (webview → iframe) whose body contains `text`. */
  async frameWithText(text: string, timeoutMs = 30_000): Promise<Frame> {
    return waitFor(`a frame showing "${text}"`, async () => {
      for (const f of this.page.frames()) {
        const body = await f.evaluate<string>("document.body ? document.body.innerText : ''").catch(() => "");
        if (body.includes(text)) return f;
      }
      return null;
    }, { timeoutMs, intervalMs: 250 });
  }

  /** Titles of the editor tabs. */
  async editorTabs(): Promise<string[]> {
    const tabs = this.page.locator(".tabs-container .tab");
    const out: string[] = [];
    for (const t of await tabs.all()) out.push(((await t.getAttribute("aria-label")) ?? (await t.innerText())).trim());
    return out;
  }

  /** Right-clicks a tree row and picks an item of its context menu. */
  async contextMenu(row: Locator, item: string): Promise<void> {
    await row.click({ button: "right" });
    const menuItem = this.page.locator(".context-view .monaco-menu .action-item").filter({ hasText: item }).first();
    await menuItem.waitFor({ timeout: 10_000 });
    await this.shot(`context-menu-${item.replace(/\W+/g, "-").toLowerCase()}`);
    await menuItem.click();
  }

  /** Closes the active editor (Control+W would close the browser tab; use the command). */
  async closeActiveEditor(): Promise<void> {
    await this.runCommand("View: Close Editor");
    await sleep(300);
  }

  async close(): Promise<void> {
    await this.browser.close();
  }
}
