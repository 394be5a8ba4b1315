/** What the fake gateway does wrong on purpose, per session. Counts are of data messages. */
export interface GatewayFaults {
  /** Drop every Nth data message the agent sends (the agent resends it after its timeout). */
  dropEvery?: number;
  /** Send every Nth agent data message twice. */
  duplicateEvery?: number;
  /** Hold every Nth agent data message back and send it after the next one. */
  reorderEvery?: number;
  /** Ignore every Nth data message from the client (no ack: the client must resend). */
  dropIncomingEvery?: number;
  /** Send the agent's acknowledgements this late. */
  withholdAcksMs?: number;
  /** Close the WebSocket this long after it opened (forces a resume)... */
  closeAfterMs?: number;
  /** ...this many times (default 1). */
  closes?: number;
  /** Send pause_publication this long after the handshake, start_publication pauseForMs later. */
  pauseAfterMs?: number;
  pauseForMs?: number;
  /** Send channel_closed this long after the handshake and end the session. */
  channelClosedAfterMs?: number;
  /** Ask for KMS encryption in the handshake. */
  kms?: boolean;
  /** The agent version the handshake reports. */
  agentVersion?: string;
}

/** How the agent cuts its smux byte stream into output messages (AWS's agent: 1,024, 1 ms apart). */
export interface AgentShape {
  chunkSize?: number;
  paceMs?: number;
}
