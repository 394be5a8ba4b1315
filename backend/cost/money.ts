/** Calendar windows (UTC) and money formatting shared by the cost views, reports and budget messages. */
import type { Window } from "./usage";

export function dayWindow(now: number): Window {
  const d = new Date(now);
  const from = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  return { from, to: from + 86_400_000 };
}

export function monthWindow(now: number): Window {
  const d = new Date(now);
  return { from: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1), to: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) };
}

/** "2026-11" -> the month's window; null when the text is not a valid YYYY-MM. */
export function parseMonth(text: string): Window | null {
  const m = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(text);
  if (!m) return null;
  const from = Date.UTC(Number(m[1]), Number(m[2]) - 1, 1);
  return { from, to: Date.UTC(Number(m[1]), Number(m[2]), 1) };
}

export function monthName(now: number): string {
  return new Date(now).toISOString().slice(0, 7);
}

export function formatMoney(amount: number, currency: string): string {
  try {
    return new Intl.NumberFormat("en-US", { style: "currency", currency }).format(amount);
  } catch {
    return `${amount.toFixed(2)} ${currency}`;
  }
}

/** Rounds for display and the wire: micro-units, so sums of lines still agree to the cent. */
export const roundMoney = (x: number) => Math.round(x * 1e6) / 1e6;
