/**
 * A pause that ends early when `signal` aborts, so a loop waiting between rounds stops at once.
 * The timer does not keep the process alive, and the abort listener is removed when it ends.
 */
export function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(finish, ms);
    t.unref?.();
    function finish() {
      clearTimeout(t);
      signal.removeEventListener("abort", finish);
      resolve();
    }
    signal.addEventListener("abort", finish, { once: true });
  });
}
