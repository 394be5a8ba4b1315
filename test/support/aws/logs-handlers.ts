/**
 * CloudWatch Logs actions of the fake server, in the service's JSON 1.1 protocol
 * (X-Amz-Target: Logs_20140328.<Action>): GetLogEvents over the world's streams, with forward
 * tokens that repeat at the end of the stream as the real service's do.
 */
import type { FakeWorld } from "./fake-world";
import { AwsFault } from "./wire";

type Body = Record<string, unknown>;

function getLogEvents(world: FakeWorld, b: Body): unknown {
  const events = world.logGroups.get(String(b.logGroupName))?.get(String(b.logStreamName));
  if (!events) throw new AwsFault("ResourceNotFoundException", "The specified log stream does not exist.");
  if (b.startFromHead !== true && !b.nextToken) throw new AwsFault("InvalidParameterException", "the fake serves reads from the head only");
  const token = typeof b.nextToken === "string" ? b.nextToken : "f/0";
  const m = /^f\/(\d+)$/.exec(token);
  if (!m) throw new AwsFault("InvalidParameterException", "The specified nextToken is invalid.");
  const from = Number(m[1]);
  const limit = Math.min(Number(b.limit ?? 10_000), 10_000);
  const page = events.slice(from, from + limit);
  return { events: page, nextForwardToken: `f/${from + page.length}`, nextBackwardToken: `b/${from}` };
}

export const LOGS_ACTIONS: Record<string, (world: FakeWorld, b: Body) => unknown> = {
  GetLogEvents: getLogEvents,
};
