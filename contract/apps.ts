/**
 * The web apps an instance can serve (RStudio Server, Jupyter Notebook) and what each one fixes:
 * its port on the instance, how to tell it is ready, what "R is working" means for the busy
 * check, and how the extension titles and marks it. One table, so adding an app is one entry.
 * No imports: the backend, the wire contract and the extension all read it.
 */

export const APP_NAMES = ["rstudio", "jupyter"] as const;
export type AppName = (typeof APP_NAMES)[number];

export interface AppDescriptor {
  name: AppName;
  /** What users call it (tab titles, commands, messages). */
  title: string;
  /** Port the app listens on, on the instance (127.0.0.1 only). */
  defaultPort: number;
  /** Path that answers 200 once the app serves (readiness); the extension waits on it too. */
  readyPath: string;
  /** What the busy check looks at before the reaper takes an idle instance. */
  busyNotion: string;
  /** The codicon of the instance's tree row when running. */
  icon: string;
}

export const APPS: Record<AppName, AppDescriptor> = {
  rstudio: {
    name: "rstudio",
    title: "RStudio",
    defaultPort: 8787,
    readyPath: "/",
    busyNotion: "an rsession process over the CPU threshold",
    icon: "vm-running",
  },
  jupyter: {
    name: "jupyter",
    title: "Jupyter",
    defaultPort: 8888,
    readyPath: "/api/status",
    busyNotion: "a kernel whose execution_state is busy, or Jupyter's last_activity in the last few minutes",
    icon: "notebook",
  },
};

export function isAppName(value: unknown): value is AppName {
  return typeof value === "string" && (APP_NAMES as readonly string[]).includes(value);
}

/** One app an instance of a purpose serves, and its port there. */
export interface AppEndpoint {
  app: AppName;
  port: number;
}

/** The apps a purpose's instances serve, its main app first. */
export function purposeApps(p: { app: AppName; servicePort: number; extraApps: readonly AppName[] }): AppEndpoint[] {
  return [{ app: p.app, port: p.servicePort }, ...p.extraApps.filter((a) => a !== p.app).map((app) => ({ app, port: APPS[app].defaultPort }))];
}
