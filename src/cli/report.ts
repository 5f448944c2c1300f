// The preflight report as a person reads it: one block per host, one line per check, failures first to the eye.
import type { CheckStatus, PreflightReport } from '../plan/types.js';
import { forTerminal } from './terminal-text.js';

const icon: Record<CheckStatus, string> = { pass: 'ok  ', warn: 'WARN', fail: 'FAIL' };

export function formatPreflightReport(report: PreflightReport): string {
  const lines: string[] = [];
  const hosts = [...new Set(report.results.map((r) => r.host))];
  const width = Math.max(...report.results.map((r) => r.check.length), 5);
  for (const host of hosts) {
    lines.push(`${host}:`);
    for (const r of report.results.filter((x) => x.host === host)) {
      lines.push(`  ${icon[r.status]}  ${r.check.padEnd(width)}  ${forTerminal(r.message)}`);
    }
  }
  const { pass, warn, fail } = report.summary;
  lines.push(
    '',
    `${report.cluster}: ${pass} passed, ${warn} warnings, ${fail} failed — ${report.ok ? 'ready for setup' : 'fix the failures above before setup'}`,
  );
  return lines.join('\n');
}
