import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { COMMAND_IDS, COMMANDS, CONTEXT_KEYS, PANEL_VIEW_TYPE, TREE_VIEW_ID, VIEW_CONTAINER_ID } from "../../../extension/command-ids";

const root = path.resolve(__dirname, "../../..");
const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8"));
const contributes = pkg.contributes;

test("every command in the code is in package.json, and back", () => {
  const declared = contributes.commands.map((c: { command: string }) => c.command).sort();
  assert.deepEqual([...COMMAND_IDS].sort(), declared);
});

test("every command has the RStudio Pool category and a title; Claim RStudio is titled exactly", () => {
  for (const c of contributes.commands) {
    assert.equal(c.category, "RStudio Pool", c.command);
    assert.ok(c.title, c.command);
  }
  assert.equal(contributes.commands.find((c: { command: string }) => c.command === COMMANDS.claim).title, "Claim RStudio");
});

test("menus and welcome views only name known commands", () => {
  const known = new Set<string>(COMMAND_IDS);
  const menuCommands = Object.values(contributes.menus as Record<string, { command: string }[]>).flat().map((m) => m.command);
  for (const c of menuCommands) assert.ok(known.has(c), `menu names unknown command ${c}`);
  for (const w of contributes.viewsWelcome) {
    for (const m of String(w.contents).matchAll(/\(command:(rstudioPool\.[A-Za-z]+)/g)) assert.ok(known.has(m[1]!), `welcome names unknown command ${m[1]}`);
  }
});

test("view container, tree view and when-clauses use the ids the code uses", () => {
  assert.equal(contributes.viewsContainers.activitybar[0].id, VIEW_CONTAINER_ID);
  assert.equal(contributes.views[VIEW_CONTAINER_ID][0].id, TREE_VIEW_ID);
  assert.ok(existsIn(contributes.viewsContainers.activitybar[0].icon));
  const whens = JSON.stringify(contributes.viewsWelcome) + JSON.stringify(contributes.menus);
  for (const key of Object.values(CONTEXT_KEYS)) assert.ok(whens.includes(key), `${key} is used in a when-clause`);
  assert.equal(PANEL_VIEW_TYPE, "rstudioPool.rstudio");
  // Item menus match the contextValues the tree model produces.
  const itemWhens = contributes.menus["view/item/context"].map((m: { when: string }) => m.when).join(" ");
  for (const cv of ["instance.running", "instance.pending"]) assert.ok(itemWhens.includes(cv.split(".")[1]!), cv);
});

test("activation: view, URI (commands implicitly), never '*'; settings documented", () => {
  assert.ok(!pkg.activationEvents.includes("*"));
  assert.ok(pkg.activationEvents.includes(`onView:${TREE_VIEW_ID}`));
  assert.ok(pkg.activationEvents.includes("onUri"));
  const props = contributes.configuration.properties;
  assert.deepEqual(Object.keys(props).sort(), [
    "rstudioPool.backendUrl",
    "rstudioPool.defaultPurpose",
    "rstudioPool.heartbeatSeconds",
    "rstudioPool.openIn",
    "rstudioPool.sessionManagerPluginPath",
    "rstudioPool.tunnel",
  ]);
  for (const [k, v] of Object.entries(props as Record<string, { description?: string }>)) assert.ok(v.description, `${k} has a description`);
  assert.equal(props["rstudioPool.backendUrl"].default, "http://127.0.0.1:8080");
  assert.equal(props["rstudioPool.heartbeatSeconds"].default, 60);
  assert.deepEqual(props["rstudioPool.openIn"].enum, ["editor", "browser"]);
  assert.deepEqual(props["rstudioPool.tunnel"].enum, ["native", "plugin", "auto"]);
  assert.equal(props["rstudioPool.tunnel"].default, "native");
});

function existsIn(rel: string): boolean {
  try {
    readFileSync(path.join(root, rel));
    return true;
  } catch {
    return false;
  }
}
