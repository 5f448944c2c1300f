// Host scripts report what they found as `key=value` lines, one round trip for several facts.

/** `key=value` lines into a map (value trimmed); other lines are ignored. */
export function parseKeyValues(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return m;
}
