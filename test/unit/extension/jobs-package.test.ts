/** The jobs commands' place in package.json: R files only, in the right menus, activation still lazy. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { COMMANDS } from "../../../extension/command-ids";

const pkg = JSON.parse(readFileSync(path.resolve(__dirname, "../../../package.json"), "utf8"));
const menus = pkg.contributes.menus as Record<string, { command: string; when?: string; group?: string }[]>;
const R_FILE = "resourceExtname == .R || resourceExtname == .r";

test("Run R Script on Pool sits in the editor title, editor and Explorer menus of .R/.r files only", () => {
  for (const menu of ["editor/title", "editor/context", "explorer/context"]) {
    const entry = menus[menu]?.find((m) => m.command === COMMANDS.runScript);
    assert.ok(entry, `${menu} has it`);
    assert.equal(entry.when, R_FILE, menu);
  }
  assert.match(menus["editor/title"]!.find((m) => m.command === COMMANDS.runScript)!.group!, /^navigation/, "a button in the title bar");
  assert.match(menus.commandPalette!.find((m) => m.command === COMMANDS.runScript)!.when!, /resourceExtname == \.R/);
  assert.equal(pkg.contributes.commands.find((c: { command: string }) => c.command === COMMANDS.runScript).title, "Run R Script on Pool");
});

test("job rows get Cancel Job (active only) and Show Job Log; running instances Keep Alive Until Job Ends", () => {
  const item = menus["view/item/context"]!;
  const whens = (cmd: string) => item.filter((m) => m.command === cmd).map((m) => m.when);
  assert.ok(whens(COMMANDS.cancelJob).length >= 1 && whens(COMMANDS.cancelJob).every((w) => /viewItem == job\.active/.test(w!)));
  assert.ok(whens(COMMANDS.showJobLog).every((w) => /viewItem =~ \/\^job\\\./.test(w!)));
  assert.deepEqual(whens(COMMANDS.keepAliveUntilJobEnds), ["view == rstudioPool.instances && viewItem == instance.running"]);
  assert.equal(pkg.contributes.commands.find((c: { command: string }) => c.command === COMMANDS.keepAliveUntilJobEnds).title, "Keep Alive Until Job Ends");
});

test("activation stays lazy: no new activation events for jobs", () => {
  assert.deepEqual(pkg.activationEvents, ["onView:rstudioPool.instances", "onUri"]);
});
