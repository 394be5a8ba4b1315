/**
 * The user data's effect, not only its text: the rendered script runs under a scratch root
 * (RSP_ROOT) with stand-ins for systemctl, docker, nft, mount and friends that record what they
 * were asked. Checks what a real boot relies on: RStudio never starts for a user before their
 * home is mounted, a home that does not appear fails the instance with a reason, baked mode
 * blocks IMDS for the RStudio user (and refuses to go on when it cannot), and our RStudio
 * settings survive rocker's init replacing rserver.conf when auth is disabled.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { renderUserData, type UserDataValues } from "../../../backend/providers/ec2/user-data";

const REAL_TOOLS = ["bash", "sh", "cat", "grep", "mv", "cp", "mkdir", "install", "date", "seq", "rm", "touch", "chmod", "sed", "tr", "dirname", "env", "base64", "gzip", "gunzip"];

interface Sandbox {
  root: string;
  run(script: string, args?: string[], env?: Record<string, string>): { status: number | null; stdout: string; stderr: string };
  calls(): string[];
  status(): string;
}

/** A scratch root with stubs; `opts` picks which firewall tools exist and whether IMDS stays reachable. */
function sandbox(opts: { firewall: "nft" | "iptables" | "none"; imdsReachable?: boolean } = { firewall: "nft" }): Sandbox {
  const root = mkdtempSync(path.join(tmpdir(), "rsp-userdata-"));
  const bin = path.join(root, ".bin");
  mkdirSync(bin);
  for (const t of REAL_TOOLS) {
    const real = ["/usr/bin", "/bin"].map((d) => path.join(d, t)).find((f) => existsSync(f));
    if (real) symlinkSync(real, path.join(bin, t));
  }
  const stub = (name: string, body: string) => {
    writeFileSync(path.join(bin, name), `#!/bin/bash\necho "${name} $*" >>"$RSP_ROOT/.calls"\n${body}\n`);
    chmodSync(path.join(bin, name), 0o755);
  };
  stub("systemctl", 'case "$1" in restart|start) touch "$RSP_ROOT/.rstudio-up";; enable) [ "${2:-}" = "--now" ] && [ "${3:-}" = "rstudio-pool.service" ] && touch "$RSP_ROOT/.rstudio-up";; stop) rm -f "$RSP_ROOT/.rstudio-up";; esac; exit 0');
  stub("docker", "exit 0");
  stub("curl", '[ -f "$RSP_ROOT/.rstudio-up" ]');
  stub("chown", "exit 0");
  stub("id", "exit 0");
  stub("useradd", "exit 0");
  stub("sleep", "exit 0");
  stub("blkid", "exit 1");
  stub("mkfs.ext4", "exit 0");
  stub("mountpoint", 'grep -qxF "${@: -1}" "$RSP_ROOT/.mounts" 2>/dev/null');
  stub("mount", 'echo "${@: -1}" >>"$RSP_ROOT/.mounts"');
  stub("umount", "exit 0");
  stub("sync", "exit 0");
  stub("runuser", opts.imdsReachable ? "exit 0" : "exit 1");
  if (opts.firewall === "nft") stub("nft", 'cat >>"$RSP_ROOT/.nft"');
  if (opts.firewall === "iptables") stub("iptables", "exit 0");
  const env = { PATH: bin, RSP_ROOT: root, HOME: root };
  return {
    root,
    run(script, args = [], extra = {}) {
      const r = spawnSync(path.join(bin, "bash"), [script, ...args], { env: { ...env, ...extra }, encoding: "utf8" });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr + (existsSync(path.join(root, "var/log/rstudio-pool.log")) ? readFileSync(path.join(root, "var/log/rstudio-pool.log"), "utf8") : "") };
    },
    calls: () => (existsSync(path.join(root, ".calls")) ? readFileSync(path.join(root, ".calls"), "utf8").trim().split("\n") : []),
    status: () => readFileSync(path.join(root, "run/rstudio-pool/status"), "utf8").trim(),
  };
}

function boot(sb: Sandbox, values: Partial<UserDataValues>) {
  const script = path.join(sb.root, ".user-data.sh");
  writeFileSync(script, renderUserData({ mode: "container", rstudioImage: "rocker/rstudio:4.4", rPackages: [], frameOrigin: "any", waitForHome: false, ...values }));
  return sb.run(script);
}

const helper = (sb: Sandbox) => path.join(sb.root, "usr/local/sbin/rstudio-pool-home");

test("a warm container instance starts RStudio at boot and reports ready once it answers", () => {
  const sb = sandbox();
  const r = boot(sb, { waitForHome: false });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(sb.calls().includes("systemctl enable --now rstudio-pool.service"));
  assert.equal(sb.run(helper(sb), ["check"]).stdout.trim(), "rstudio-pool-ready home=none");
  const unit = readFileSync(path.join(sb.root, "etc/systemd/system/rstudio-pool.service"), "utf8");
  assert.match(unit, /apply-rserver-conf \/etc\/rstudio-pool\/rserver\.conf \/etc\/rstudio && exec \/init/);
  assert.match(unit, /^ExecStartPre=\/bin\/sh -c 'test ! -f \/etc\/rstudio-pool\/require-home \|\| mountpoint -q \/srv\/rstudio-home'$/m);
  assert.ok(!existsSync(path.join(sb.root, ".nft")), "container mode leaves the firewall alone (the hop limit keeps the container from IMDS)");
  // The spot watcher: the repo's script, unpacked (comments aside) and run as a unit.
  const watcher = readFileSync(path.join(sb.root, "usr/local/sbin/rstudio-pool-spot-watcher"), "utf8");
  assert.match(watcher, /^#!\/bin\/bash\n/);
  assert.match(watcher, /spot\/instance-action/);
  assert.match(watcher, /events\/recommendations\/rebalance/);
  assert.ok(sb.calls().includes("systemctl enable --now rstudio-pool-spot-watcher.service"));
  const wunit = readFileSync(path.join(sb.root, "etc/systemd/system/rstudio-pool-spot-watcher.service"), "utf8");
  assert.match(wunit, /^Environment="WATCHER_SUSPEND_CMD=\/usr\/local\/sbin\/rstudio-pool-home suspend"$/m);
  // The backend's release unmounts the home; that suspends the R sessions to it first.
  const before = sb.calls().length;
  assert.equal(sb.run(helper(sb), ["unmount"]).status, 0);
  assert.ok(sb.calls().slice(before).includes("docker exec rstudio rstudio-server suspend-all"), sb.calls().slice(before).join("; "));
});

test("rocker's init replacing rserver.conf (DISABLE_AUTH=true) keeps our frame and same-site settings, each key once", () => {
  const sb = sandbox();
  assert.equal(boot(sb, {}).status, 0);
  // What rocker/rstudio ships: rserver.conf, and the auth-less variant its init moves over it.
  const etc = path.join(sb.root, "container/etc/rstudio");
  mkdirSync(etc, { recursive: true });
  writeFileSync(path.join(etc, "rserver.conf"), "rsession-which-r=/usr/local/bin/R\n");
  writeFileSync(path.join(etc, "disable_auth_rserver.conf"), "rsession-which-r=/usr/local/bin/R\nauth-none=1\n");
  const apply = sb.run(path.join(sb.root, "etc/rstudio-pool/apply-rserver-conf"), [path.join(sb.root, "etc/rstudio-pool/rserver.conf"), etc]);
  assert.equal(apply.status, 0, apply.stderr);
  // rocker's init_userconf.sh with DISABLE_AUTH=true:
  spawnSync("mv", [path.join(etc, "disable_auth_rserver.conf"), path.join(etc, "rserver.conf")]);
  const conf = readFileSync(path.join(etc, "rserver.conf"), "utf8");
  const values = (key: string) => conf.split("\n").filter((l) => l.startsWith(`${key}=`));
  assert.deepEqual(values("www-frame-origin"), ["www-frame-origin=any"]);
  assert.deepEqual(values("www-same-site"), ["www-same-site=none"]);
  assert.deepEqual(values("auth-none"), ["auth-none=1"], "rserver refuses an option given twice");
  assert.deepEqual(values("www-address"), ["www-address=0.0.0.0"]);
  assert.deepEqual(values("rsession-which-r"), ["rsession-which-r=/usr/local/bin/R"], "rocker's own settings stay");
});

test("an instance launched for a user: RStudio waits for the home; a missing home fails with a reason; a mounted one starts RStudio", () => {
  const sb = sandbox();
  const r = boot(sb, { mode: "baked", waitForHome: true });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(sb.calls().includes("systemctl enable rstudio-pool.service"));
  assert.ok(!sb.calls().some((c) => /systemctl (enable --now|start|restart) rstudio-pool\.service/.test(c)), "RStudio did not start on the root disk");
  assert.equal(sb.status(), "waiting-for-home");
  assert.equal(sb.run(helper(sb), ["check"]).stdout.trim(), "rstudio-pool-waiting-for-home");

  const missing = sb.run(helper(sb), ["mount", "vol-0abc1234"], { RSP_DEVICE_WAIT_SECONDS: "0" });
  assert.equal(missing.status, 1);
  assert.equal(sb.status(), "failed: home volume vol-0abc1234 did not appear");
  assert.ok(!existsSync(path.join(sb.root, ".rstudio-up")), "RStudio still stopped");
  assert.equal(sb.run(helper(sb), ["check"]).stdout.trim(), "rstudio-pool-failed: home volume vol-0abc1234 did not appear");

  mkdirSync(path.join(sb.root, "dev/disk/by-id"), { recursive: true });
  writeFileSync(path.join(sb.root, "dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0abc1234"), "");
  const ok = sb.run(helper(sb), ["mount", "vol-0abc1234"]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout.trim(), "rstudio-pool-ready home=vol-0abc1234");
  const calls = sb.calls();
  const mountAt = calls.findIndex((c) => c.startsWith("mount ") && c.endsWith("/srv/rstudio-home"));
  const startAt = calls.findIndex((c) => c === "systemctl restart rstudio-pool.service");
  assert.ok(mountAt >= 0 && startAt > mountAt, `the home is mounted before RStudio starts: ${calls.join(" | ")}`);
  assert.ok(calls.some((c) => c.startsWith("mkfs.ext4 ")), "a blank home is formatted");
  assert.equal(sb.run(helper(sb), ["check"]).stdout.trim(), "rstudio-pool-ready home=vol-0abc1234");
});

test("baked mode blocks IMDS for uid >= 1000 and verifies it; without a firewall tool, or if IMDS stays reachable, it refuses", () => {
  const sb = sandbox({ firewall: "nft" });
  assert.equal(boot(sb, { mode: "baked" }).status, 0);
  const rules = readFileSync(path.join(sb.root, ".nft"), "utf8");
  assert.match(rules, /ip daddr 169\.254\.169\.254 meta skuid 1000-4294967294 reject/);
  assert.match(rules, /ip6 daddr fd00:ec2::254 meta skuid 1000-4294967294 reject/);
  assert.ok(sb.calls().some((c) => c.startsWith("runuser -u rstudio")), "checked as the RStudio user");

  const ipt = sandbox({ firewall: "iptables" });
  assert.equal(boot(ipt, { mode: "baked" }).status, 0);
  assert.ok(ipt.calls().includes("iptables -I OUTPUT -d 169.254.169.254 -m owner --uid-owner 1000-4294967294 -j REJECT"));

  for (const sb2 of [sandbox({ firewall: "none" }), sandbox({ firewall: "nft", imdsReachable: true })]) {
    const r = boot(sb2, { mode: "baked" });
    assert.notEqual(r.status, 0);
    assert.match(sb2.status(), /^failed: could not block IMDS/);
    assert.ok(!sb2.calls().some((c) => /rstudio-pool\.service/.test(c)), "RStudio never started");
  }
});
