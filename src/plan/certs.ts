// Certificate expiry as a plan and a report: which files to read on which host, and how the certificate facts the
// hosts send back become one table sorted by days left. Pure and workflow-safe: the same functions feed
// `kubeadm2ha certs check --dry-run`, the checkCertificates workflow and the CLI table.
import { InvalidInputError } from '../errors.js';
import type { Inventory } from '../inventory/schema.js';
import { targetOf } from './topology.js';
import type { HostPlan } from './types.js';

export const DEFAULT_THRESHOLD_DAYS = 30;

/** Memo keys each run sets: what the Web UI's memo panel, `status` and `certs schedule --show` display. */
export const CERTS_MEMO_MIN_DAYS_LEFT = 'certsMinDaysLeft';
export const CERTS_MEMO_SUMMARY = 'certsSummary';
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * A place certificates live. `cert` files are PEM (only their CERTIFICATE blocks leave the host: kubelet's .pem
 * files hold the private key too); `kubeconfig` files only send their users' client-certificate entries (a
 * kubeconfig also holds client-key-data and tokens, which never leave the host).
 */
export interface CertSource {
  kind: 'cert' | 'kubeconfig';
  dir: string;
  /** Shell glob patterns for the file name (find -name), any of which selects a file. */
  names: string[];
  /** Descend into subdirectories (the kubeadm PKI has etcd/ below pki/). */
  recursive: boolean;
  /** File-name patterns to leave out even when `names` selects them. */
  exclude?: string[];
  /** Why the exclusion, for --dry-run. */
  note?: string;
}

export const certSources: readonly CertSource[] = [
  // kubeadm's PKI, including etcd/*.crt, the CAs and the front-proxy pair.
  { kind: 'cert', dir: '/etc/kubernetes/pki', names: ['*.crt'], recursive: true },
  // admin.conf, super-admin.conf, controller-manager.conf, scheduler.conf, kubelet.conf.
  { kind: 'kubeconfig', dir: '/etc/kubernetes', names: ['*.conf'], recursive: false },
  // The kubelet's serving certificate (kubelet.crt) and its rotated client certificate. Rotation keeps every
  // earlier kubelet-client-<date>.pem; the one in use is the kubelet-client-current.pem link, so the dated files
  // (old ones are expired by design) are left out rather than reported as expired.
  {
    kind: 'cert',
    dir: '/var/lib/kubelet/pki',
    names: ['*.crt', '*.pem'],
    recursive: false,
    exclude: ['*-[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]-*.pem'],
    note: 'dated kubelet-*-<timestamp>.pem files are superseded by the *-current.pem link',
  },
];

export interface CertsInput {
  inventory: Inventory;
  /** Report certificates with fewer days left than this (default 30) and fail the check. */
  thresholdDays?: number;
}

export interface CertsPlan {
  cluster: string;
  kubernetesVersion: string;
  thresholdDays: number;
  sources: readonly CertSource[];
  hosts: HostPlan<{ id: 'read'; title: string }>[];
}

/** What the activity learned about one certificate. Facts only: no PEM, no key, nothing secret. */
export interface CertFact {
  /** File path; for a kubeconfig `<path>#<user>` (users[].name), for the n-th certificate of a bundle `<path>#n`. */
  path: string;
  source: CertSource['kind'];
  subject?: string;
  issuer?: string;
  notBefore: string;
  notAfter: string;
  isCa: boolean;
  serial: string;
  /** SHA-256 of the DER certificate, lower-case hex: tells two certificates with the same names apart. */
  sha256Fingerprint: string;
}

/** One host's answer: its certificates, and files it found but could not read or parse. */
export interface HostCertificates {
  host: string;
  certificates: CertFact[];
  problems: { path: string; message: string }[];
}

export type CertStatus = 'ok' | 'expiring' | 'expired';

export interface CertRow extends CertFact {
  host: string;
  /** Whole days left, rounded down (negative once expired), as `kubeadm certs check-expiration` counts them. */
  daysLeft: number;
  status: CertStatus;
}

export interface CertReport {
  cluster: string;
  /** ISO time the days were counted from. */
  checkedAt: string;
  thresholdDays: number;
  /** Sorted by days left, fewest first. */
  rows: CertRow[];
  /** Hosts that could not be read at all, and files that could not be parsed. */
  problems: { host: string; path?: string; message: string }[];
  /** Hosts read, in inventory order, with how many certificates each had. */
  hosts: { host: string; certificates: number; read: boolean }[];
  minDaysLeft: number | null;
  expiring: number;
  expired: number;
  /** Nothing under the threshold and every host read: the CLI exits 0. */
  ok: boolean;
}

export function checkThreshold(days: number): number {
  if (!Number.isInteger(days) || days < 0) {
    throw new InvalidInputError(`--threshold-days must be a whole number of days (0 or more), got ${days}`);
  }
  return days;
}

export function planCertificateCheck(input: CertsInput): CertsPlan {
  const inv = input.inventory;
  return {
    cluster: inv.cluster.name,
    kubernetesVersion: inv.cluster.kubernetesVersion,
    thresholdDays: checkThreshold(input.thresholdDays ?? DEFAULT_THRESHOLD_DAYS),
    sources: certSources,
    hosts: inv.hosts.map((h) => ({
      target: targetOf(h),
      steps: [{ id: 'read' as const, title: 'read certificates' }],
    })),
  };
}

/** One line per host and source, for `--dry-run`. */
export function describeCertsPlan(plan: CertsPlan): string[] {
  const sources = plan.sources.map((s) => {
    const where = `${s.dir}/${s.recursive ? '**/' : ''}{${s.names.join(',')}}`;
    const except = s.exclude?.length ? ` except ${s.exclude.join(', ')} (${s.note ?? ''})` : '';
    return `${s.kind === 'kubeconfig' ? 'client-certificate-data of' : 'certificates in'} ${where}${except}`;
  });
  const lines = [
    `certificate expiry of cluster ${plan.cluster}, threshold ${plan.thresholdDays} days; on every host read:`,
  ];
  lines.push(...sources.map((s) => `  ${s}`));
  lines.push(`hosts: ${plan.hosts.map((h) => `${h.target.name} (${h.target.address})`).join(', ')}`);
  return lines;
}

export function daysLeft(notAfter: string, nowMs: number): number {
  return Math.floor((Date.parse(notAfter) - nowMs) / DAY_MS);
}

export function statusOf(notAfter: string, nowMs: number, thresholdDays: number): CertStatus {
  const left = Date.parse(notAfter) - nowMs;
  if (left <= 0) return 'expired';
  // Compared exactly, not on whole days: 29.9 days left is under a 30-day threshold.
  return left < thresholdDays * DAY_MS ? 'expiring' : 'ok';
}

// Code-unit order, not the locale's: the same on every worker.
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Fewest days first; ties by host, then path, so the table is stable from run to run. */
export function compareRows(a: CertRow, b: CertRow): number {
  return Date.parse(a.notAfter) - Date.parse(b.notAfter) || cmp(a.host, b.host) || cmp(a.path, b.path);
}

export function buildCertReport(
  plan: Pick<CertsPlan, 'cluster' | 'thresholdDays' | 'hosts'>,
  results: HostCertificates[],
  unreachable: { host: string; message: string }[],
  nowMs: number,
): CertReport {
  const rows: CertRow[] = results
    .flatMap((r) =>
      r.certificates.map((c) => ({
        ...c,
        host: r.host,
        daysLeft: daysLeft(c.notAfter, nowMs),
        status: statusOf(c.notAfter, nowMs, plan.thresholdDays),
      })),
    )
    .sort(compareRows);
  // Hosts finish in any order; problems are listed in inventory order, then by path.
  const hostOrder = new Map(plan.hosts.map((h, i) => [h.target.name, i]));
  const problems: CertReport['problems'] = [
    ...unreachable.map((u): CertReport['problems'][number] => ({ host: u.host, message: u.message })),
    ...results.flatMap((r) => r.problems.map((p) => ({ host: r.host, path: p.path, message: p.message }))),
  ].sort((a, b) => (hostOrder.get(a.host) ?? 0) - (hostOrder.get(b.host) ?? 0) || cmp(a.path ?? '', b.path ?? ''));
  const byHost = new Map(results.map((r) => [r.host, r.certificates.length]));
  const expiring = rows.filter((r) => r.status === 'expiring').length;
  const expired = rows.filter((r) => r.status === 'expired').length;
  return {
    cluster: plan.cluster,
    checkedAt: new Date(nowMs).toISOString(),
    thresholdDays: plan.thresholdDays,
    rows,
    problems,
    hosts: plan.hosts.map((h) => ({
      host: h.target.name,
      certificates: byHost.get(h.target.name) ?? 0,
      read: byHost.has(h.target.name),
    })),
    minDaysLeft: rows[0]?.daysLeft ?? null,
    expiring,
    expired,
    ok: expiring === 0 && expired === 0 && problems.length === 0,
  };
}

/** The report as the table the CLI prints (host, path, subject CN, notAfter, days left, issuer). */
export function formatCertTable(report: CertReport): string[] {
  const header = ['HOST', 'PATH', 'SUBJECT CN', 'NOT AFTER', 'DAYS LEFT', 'ISSUER', ''];
  const body = report.rows.map((r) => [
    r.host,
    r.path,
    r.subject ?? '-',
    r.notAfter.replace(/\.\d{3}Z$/, 'Z'),
    String(r.daysLeft),
    r.issuer ?? '-',
    r.status === 'ok' ? '' : r.status.toUpperCase(),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 4 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const out = [line(header), ...body.map(line)];
  for (const p of report.problems) out.push(`problem: ${p.host}${p.path ? ` ${p.path}` : ''}: ${p.message}`);
  const min = report.minDaysLeft === null ? 'no certificates found' : `fewest days left: ${report.minDaysLeft}`;
  out.push(
    '',
    `${report.cluster}: ${report.rows.length} certificates on ${report.hosts.filter((h) => h.read).length}/${report.hosts.length} hosts, ` +
      `${report.expired} expired, ${report.expiring} under ${report.thresholdDays} days; ${min}` +
      (report.ok ? '' : ' — renew or investigate the entries above'),
  );
  return out;
}
