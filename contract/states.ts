/**
 * The instance states and their groups: the one definition the backend (store queries, the
 * lifecycle, the transition table), the API and the extension all use.
 *
 * Decision about `releasing` (before this module there were five lists that disagreed):
 * a releasing instance is LIVE (it still holds a machine: it counts against `max`, it is
 * billed, the reconciler still expects the provider to list it) but not SERVING (it left its
 * user at once and will never serve anyone again). "Ended" means the machine is gone; a UI
 * that asks "is this over for its user?" asks `!isServing(state)`, not `isEnded(state)`.
 *
 * `interrupting` is LIVE and not SERVING for the same reasons: the machine is still there (and
 * billed to its user until it is gone), but its R sessions are being suspended and its home
 * unmounted for the replacement, so nobody connects to it any more.
 *
 * The groups partition the states: SERVING ∪ {releasing, interrupting} = LIVE, LIVE ∪ ENDED = every state.
 */

export const INSTANCE_STATES = [
  "launching", // a launch row exists; the provider has not confirmed an instance yet
  "booting", // the provider has an instance; its service port does not answer yet
  "running", // the service answers
  "releasing", // released, being terminated (its user's things taken off first)
  "interrupting", // the provider warned it takes the instance back soon (spot: two minutes); a replacement is starting
  "terminated",
  "lost", // vanished from the provider without us terminating it
  "interrupted", // the provider took it back (spot interruption)
  "failed", // the launch could not be completed
] as const;

export type InstanceState = (typeof INSTANCE_STATES)[number];

/** States in which an instance can serve (or will serve) its owner. */
export const SERVING_STATES: readonly InstanceState[] = ["launching", "booting", "running"];
/** States that hold (or will hold) a machine: they count against `max` and are billed. */
export const LIVE_STATES: readonly InstanceState[] = [...SERVING_STATES, "releasing", "interrupting"];
/** States after which nothing happens: the machine is gone. */
export const ENDED_STATES: readonly InstanceState[] = INSTANCE_STATES.filter((s) => !LIVE_STATES.includes(s));

export const isServing = (s: InstanceState): boolean => SERVING_STATES.includes(s);
export const isLive = (s: InstanceState): boolean => LIVE_STATES.includes(s);
export const isEnded = (s: InstanceState): boolean => ENDED_STATES.includes(s);
