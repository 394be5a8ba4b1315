/**
 * Which web app an instance or purpose serves, as the extension sees it: the main app (what a
 * claim opens), every app (what "Open" can pick from), and what the user reads (tab titles,
 * messages). Older backends send no `app`: that means RStudio.
 */
import type { AppName, InstanceView, PurposeView } from "../../contract";
import { APPS } from "../../contract";

export function mainApp(i: Pick<InstanceView, "app"> | Pick<PurposeView, "app">): AppName {
  return i.app ?? "rstudio";
}

export function instanceApps(i: Pick<InstanceView, "app" | "apps">): AppName[] {
  return i.apps?.length ? i.apps : [mainApp(i)];
}

export function purposeServes(p: PurposeView, app: AppName): boolean {
  return p.apps?.length ? p.apps.some((a) => a.app === app) : mainApp(p) === app;
}

export function appTitle(app: AppName): string {
  return APPS[app]?.title ?? app;
}

/** The codicon of a running instance's row. */
export function appIcon(app: AppName): string {
  return APPS[app]?.icon ?? "vm-running";
}

/** The tunnel's `app` argument: none for the main app, so the main app keeps one tunnel per instance. */
export function tunnelApp(i: Pick<InstanceView, "app">, app: AppName | undefined): AppName | undefined {
  return app && app !== mainApp(i) ? app : undefined;
}

/** The app to open for a claim made for `wanted`: that one if the instance serves it, else its main app. */
export function appToOpen(i: Pick<InstanceView, "app" | "apps">, wanted: AppName | undefined): AppName {
  return wanted && instanceApps(i).includes(wanted) ? wanted : mainApp(i);
}
