/** Formatting of money and durations for the tree, tooltips and the status bar. */

export function formatMoney(amount: number, currency: string): string {
  // Cheap instance types cost fractions of a cent per hour: show enough digits to tell them apart.
  const digits = amount > 0 && amount < 0.1 ? 4 : 2;
  try {
    return new Intl.NumberFormat("en-US", { style: "currency", currency, minimumFractionDigits: 2, maximumFractionDigits: digits }).format(amount);
  } catch {
    return `${amount.toFixed(digits)} ${currency}`;
  }
}

/** "2d 3h", "1h 05m", "42m", "35s"; negative durations read as "0s". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${String(m).padStart(2, "0")}m`;
  if (m > 0) return `${m}m`;
  return `${s}s`;
}
