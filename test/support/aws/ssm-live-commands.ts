/**
 * The fake instance side of the EC2 job runner: Run Command scripts marked as job scripts
 * (ec2-job-script.ts) are run for real with bash, under a scratch root (RSP_ROOT) that holds the
 * user's home at srv/rstudio-home, the way the SSM agent runs them (as root, its own process
 * group, executionTimeout enforced, CancelCommand ends the process group). Status and output are
 * reported as GetCommandInvocation does: InProgress with empty output while it runs, then Success
 * or Failed with the exit code as ResponseCode and the first 24,000 characters of stdout. With
 * CloudWatchOutputConfig, stdout lines also go to the world's log stream
 * <command id>/<instance id>/aws-runShellScript/stdout as they come.
 *
 * Run as root, the jobs switch to uid 1000 with the real setpriv (the home is chowned to it);
 * otherwise a stand-in setpriv on the PATH records its arguments and runs the rest as is.
 */
import { spawn } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { JOB_SCRIPT_MARKER } from "../../../backend/jobs/runners/ec2-job-script";
import type { CommandHandler, FakeWorld, LiveCommand } from "./fake-world";

export interface FakeInstanceRoot {
  root: string;
  home: string;
  /** True when jobs really run as uid 1000 (the tests run as root). */
  realUserSwitch: boolean;
  /** The arguments the stand-in setpriv saw (when not root). */
  setprivLog: string;
  close(): void;
}

export function makeInstanceRoot(mode: "baked" | "container" = "baked"): FakeInstanceRoot {
  const root = mkdtempSync(path.join(tmpdir(), "rsp-ec2-jobs-"));
  chmodSync(root, 0o755);
  const home = path.join(root, "srv/rstudio-home");
  mkdirSync(home, { recursive: true });
  mkdirSync(path.join(root, "etc/rstudio-pool"), { recursive: true });
  mkdirSync(path.join(root, "bin"), { recursive: true });
  writeFileSync(path.join(root, "etc/rstudio-pool/mode"), `${mode}\n`);
  for (const d of [root, path.join(root, "srv")]) chmodSync(d, 0o755);
  const realUserSwitch = typeof process.getuid === "function" && process.getuid() === 0;
  const setprivLog = path.join(root, "setpriv.log");
  if (realUserSwitch) chownSync(home, 1000, 1000);
  else {
    // Not root: setpriv cannot switch users; record what it was asked and run the command.
    writeFileSync(
      path.join(root, "bin/setpriv"),
      `#!/bin/bash\necho "$*" >>'${setprivLog}'\nwhile [ "$#" -gt 0 ] && [ "$1" != "--" ]; do shift; done\nshift\nexec "$@"\n`,
      { mode: 0o755 },
    );
  }
  if (mode === "container") {
    // Container mode's `docker exec [-u U:G] rstudio CMD…`: CMD runs here as U, with the
    // container's /home/rstudio read as the scratch home (the same volume, as on an instance).
    writeFileSync(
      path.join(root, "bin/docker"),
      [
        "#!/bin/bash",
        `echo "$*" >>'${path.join(root, "docker.log")}'`,
        '[ "$1" = exec ] || exit 1; shift',
        'user=""',
        'while [ "${1#-}" != "$1" ]; do case "$1" in -u) user="$2"; shift 2 ;; *) shift ;; esac; done',
        'shift # the container',
        `from=/home/rstudio; to='${home}'`,
        'args=(); for a in "$@"; do args+=("${a//"$from"/"$to"}"); done',
        'if [ -n "$user" ]; then exec setpriv --reuid="${user%%:*}" --regid="${user##*:}" --clear-groups -- "${args[@]}"; else exec "${args[@]}"; fi',
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
  }
  return { root, home, realUserSwitch, setprivLog, close: () => rmSync(root, { recursive: true, force: true }) };
}

/** Runs job scripts sent to `instanceId` under `root`; every other script goes to the previous handler. */
export function runJobScriptsOn(world: FakeWorld, instanceId: string, inst: FakeInstanceRoot): void {
  const previous: CommandHandler = world.commandHandler;
  world.commandHandler = (id, commands, w, request) => {
    const script = commands.join("\n");
    if (id !== instanceId || !script.startsWith(JOB_SCRIPT_MARKER)) return previous(id, commands, w, request);
    return { status: "InProgress", live: startLive(world, script, inst, id, request) };
  };
}

function startLive(world: FakeWorld, script: string, inst: FakeInstanceRoot, instanceId: string, request: Parameters<CommandHandler>[3]): LiveCommand {
  const timeout = Number(request?.parameters.executionTimeout?.[0] ?? 3600);
  const child = spawn("bash", ["-c", script], {
    // The agent's own environment (root's), which a job must never see.
    env: { PATH: `${path.join(inst.root, "bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`, RSP_ROOT: inst.root, SSM_AGENT_SECRET: "agent-only", HOME: "/root" },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  let pending = "";
  let status = "InProgress";
  let details = "InProgress";
  let code = -1;
  let endedAt = "";
  const stream = request?.cloudWatchLogGroup ? { group: request.cloudWatchLogGroup, name: `${request.commandId}/${instanceId}/aws-runShellScript/stdout` } : null;
  child.stdout!.setEncoding("utf8").on("data", (c: string) => {
    stdout += c;
    if (!stream) return;
    pending += c;
    const lines = pending.split("\n");
    pending = lines.pop()!;
    if (lines.length) world.putLogEvents(stream.group, stream.name, lines);
  });
  child.stderr!.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  const killGroup = () => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // already gone
    }
  };
  const timer = setTimeout(() => {
    if (status !== "InProgress") return;
    status = "TimedOut";
    details = "ExecutionTimedOut";
    killGroup();
  }, timeout * 1000);
  child.on("close", (exit) => {
    clearTimeout(timer);
    if (stream && pending) world.putLogEvents(stream.group, stream.name, [pending]);
    endedAt = new Date().toISOString();
    if (status !== "InProgress") return; // cancelled or timed out
    code = exit ?? -1;
    status = code === 0 ? "Success" : "Failed";
    details = status;
  });
  return {
    status: () => status,
    statusDetails: () => details,
    responseCode: () => code,
    stdout: () => stdout,
    stderr: () => stderr,
    endedAt: () => endedAt,
    cancel() {
      if (status !== "InProgress") return;
      status = "Cancelled";
      details = "Cancelled";
      killGroup();
    },
  };
}
