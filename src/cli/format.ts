/** Small helpers for the human output of commands. */

/** 0 → "0s", 75 → "1m 15s", 7300 → "2h 1m". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/** 1234567 → "1,234,567". Not toLocaleString: loading the locale data costs a CronJob ~10 ms. */
export function formatCount(n: number): string {
  const [whole, fraction] = String(n).split('.');
  const grouped = whole!.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}

/** Left-aligned label column; the values' first words (counts) right-aligned, the rest of each value after them. */
export function table(rows: Array<[string, string]>, indent = '  '): string {
  const width = Math.max(...rows.map(([label]) => label.length));
  // The values' first words (the counts) are right-aligned; what follows them trails.
  const split = rows.map(([label, value]) => {
    const head = /^\S*/.exec(value)![0];
    return { label, head, rest: value.slice(head.length) };
  });
  const headWidth = Math.max(...split.map((r) => r.head.length));
  return split.map(({ label, head, rest }) => `${indent}${label.padEnd(width)}  ${head.padStart(headWidth)}${rest}`.trimEnd()).join('\n');
}
