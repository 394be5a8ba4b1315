/**
 * Reads a job's log from a CloudWatch Logs stream (an ECS task's awslogs stream, or Run Command's
 * CloudWatch output) with GetLogEvents. The position a reader keeps is the number of events
 * already read, not bytes: CloudWatch has no byte offsets, and an event count is stable (events
 * of a stream are kept in order) and survives a restart of the backend. Each read pages from the
 * stream's head past that many events, which is cheap for job-sized logs (GetLogEvents returns up
 * to 10,000 events or 1 MB a page).
 */
import { GetLogEventsCommand, type CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { aws, awsErrorCode } from "../../providers/ec2/aws-errors";

export interface LogEventsRead {
  text: string;
  /** Events read so far, this read included (the next read's offset). */
  nextOffset: number;
  /** How many new events this read returned. */
  newEvents: number;
  /** False when the stream does not exist (yet): nothing was written to it. */
  streamExists: boolean;
}

/** At most this many new events per read, so one read of a huge log stays bounded. */
export const MAX_EVENTS_PER_READ = 5000;
/** A bound on pages per read (a stream far longer than a job's log is not ours to page through). */
const MAX_PAGES = 200;

export async function readLogEvents(
  logs: Pick<CloudWatchLogsClient, "send">,
  logGroupName: string,
  logStreamName: string,
  offset: number,
  maxEvents = MAX_EVENTS_PER_READ,
): Promise<LogEventsRead> {
  const lines: string[] = [];
  let seen = 0;
  let token: string | undefined;
  for (let pages = 0; pages < MAX_PAGES; pages++) {
    let page;
    try {
      page = await aws({ action: "logs:GetLogEvents", target: `${logGroupName}/${logStreamName}` }, () =>
        logs.send(new GetLogEventsCommand({ logGroupName, logStreamName, startFromHead: true, nextToken: token })),
      );
    } catch (err) {
      // The stream appears with the first event; before that there is simply nothing to read.
      const code = (err as { details?: { awsCode?: string } }).details?.awsCode ?? awsErrorCode(err);
      if (code === "ResourceNotFoundException") return { text: "", nextOffset: offset, newEvents: 0, streamExists: false };
      throw err;
    }
    for (const e of page.events ?? []) {
      if (seen++ < offset) continue;
      if (lines.length >= maxEvents) break;
      lines.push(e.message ?? "");
    }
    // The forward token repeats once the end of the stream is reached (a page may be empty before that).
    const next = page.nextForwardToken;
    if (lines.length >= maxEvents || !next || next === token) break;
    token = next;
  }
  const text = lines.map((l) => (l.endsWith("\n") ? l : `${l}\n`)).join("");
  return { text, nextOffset: offset + lines.length, newEvents: lines.length, streamExists: true };
}
