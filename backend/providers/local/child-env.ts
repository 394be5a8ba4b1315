/**
 * The environment a local instance process gets: an explicit allowlist, never the backend's
 * own environment, which holds the old protocol's keys, AWS credentials and the database URL.
 * An instance runs whatever its purpose's web app does (R code of its user, with the
 * placeholder or a command template), so anything it can read, its user can read.
 */

/** Process basics every runtime needs: where programs are, who and where we are, the locale. */
const BASIC = ["PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TERM"];
/** How the docker runtime reaches its engine (the engine holds no pool secret). */
const DOCKER = ["DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY"];
/** Where R finds its libraries (rserver and command runtimes). */
const R = ["R_HOME", "R_LIBS", "R_LIBS_USER", "R_LIBS_SITE"];

export const PASSED_ENV: readonly string[] = [...BASIC, ...DOCKER, ...R];

/** The marker variables that tag an instance's processes, so a restart can find them in /proc. */
export const INSTANCE_ENV = "RSTUDIO_POOL_INSTANCE";
export const POOL_ENV = "RSTUDIO_POOL_NAME";
export const PURPOSE_ENV = "RSTUDIO_POOL_PURPOSE";
/** The backend's data dir: two backends with the same pool name never take each other's processes. */
export const HOME_ENV = "RSTUDIO_POOL_HOME";

export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface InstanceEnvInputs {
  instanceId: string;
  poolName: string;
  purpose: string;
  port: number;
  /** The provider's data dir, resolved. */
  home: string;
  /** Extra names the operator lets through (POOL_LOCAL_PASS_ENV). */
  passEnv?: readonly string[];
}

export function instanceEnv(parent: NodeJS.ProcessEnv, i: InstanceEnvInputs): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of [...PASSED_ENV, ...(i.passEnv ?? [])]) {
    if (parent[name] !== undefined) env[name] = parent[name];
  }
  for (const [name, value] of Object.entries(parent)) {
    if (name.startsWith("LC_") && value !== undefined) env[name] = value;
  }
  env[INSTANCE_ENV] = i.instanceId;
  env[POOL_ENV] = i.poolName;
  env[PURPOSE_ENV] = i.purpose;
  env[HOME_ENV] = i.home;
  env.PORT = String(i.port);
  return env;
}
