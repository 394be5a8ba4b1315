/**
 * The lifecycle steps, in the order a tick runs them. Adding a step: one file exporting a
 * LifecycleStep (see step.ts), and one line here.
 */
import { assignStep } from "./assign";
import { bootStep } from "./boot";
import { launchStep, launchWarmStep } from "./launch";
import { expireStep, reapStep } from "./reap";
import { reconcileStep } from "./reconcile";
import { retireStep } from "./retire";
import type { LifecycleStep } from "./step";
import { interruptingStep } from "./interrupting";
import { terminateStep } from "./terminate";
import { warmStep } from "./warm";

export const STEPS: readonly LifecycleStep[] = [
  reconcileStep,
  retireStep,
  launchStep,
  bootStep,
  assignStep,
  reapStep,
  expireStep,
  warmStep,
  launchWarmStep,
  interruptingStep,
  terminateStep,
];
