/**
 * Waiting in integration tests for something that happens in another process or a background
 * loop: `fn` is polled until it gives a value, and the test fails naming `what` after the
 * timeout. Each file picks its own default timeout and poll interval (a real R or Jupyter start
 * needs longer than a placeholder process).
 */
export type Poll<T> = () => Promise<T | null | undefined | false>;

export function untilWithin(defaultTimeoutMs: number, pollMs = 100) {
  return async function until<T>(what: string, fn: Poll<T>, timeoutMs = defaultTimeoutMs): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await fn();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, pollMs));
    }
  };
}
