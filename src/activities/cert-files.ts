// Reading certificate files on a host without ever moving a private key: the shell script that collects only
// certificate material (one `find` + filter per source, one round trip per host), and the parsers that turn its
// output into certificate facts on the worker.
//
// Two filters run on the host, before anything is sent:
// - PEM files keep only their CERTIFICATE blocks (kubelet's kubelet-client-*.pem holds the key in the same file);
// - kubeconfigs keep only `users:` with each user's name and client-certificate(-data) lines; client-key-data,
//   tokens, passwords, exec and auth-provider settings are dropped line by line (an allowlist, so a key nobody
//   thought of is dropped too).
import { parse as parseYaml } from 'yaml';

import type { CertFact, CertSource } from '../plan/certs.js';
import { parseCertificate } from '../pki/inspect.js';
import { quote } from '../ssh/quote.js';

/**
 * awk program: the users section of a kubeconfig, reduced to what names a user and its client certificate. Keeps
 * indentation so the result is still YAML (client-go writes kubeconfigs as block YAML; a JSON kubeconfig yields
 * nothing, and so no rows). A kept certificate value may continue on more-indented lines (block scalar).
 */
export const KUBECONFIG_FILTER_AWK = [
  '{ line = $0; match(line, /^ */); ind = RLENGTH }',
  // A top-level key (not indented, not a list item, not a comment) opens a section.
  'line ~ /^[^ #-]/ { top = line; sub(/:.*/, "", top); if (top == "users") print "users:"; cont = -1; next }',
  'top != "users" { next }',
  'cont >= 0 && ind > cont && line !~ /^ *-/ { print line; next }',
  '{ cont = -1 }',
  'line ~ /^ *(- +)?name:/ || line ~ /^ *(- +)?user: *$/ { print line; next }',
  'line ~ /^ *(- +)?client-certificate(-data)?:/ { print line; cont = ind }',
].join('\n');

/** sed program: only the certificate blocks of a PEM file. */
export const PEM_CERTS_SED = '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p';

const END_MARKER = 'k2h-certs-end';

/** The find command selecting one source's files, every value quoted. */
export function findCommand(s: CertSource): string {
  const names = s.names.map((n) => `-name ${quote(n)}`).join(' -o ');
  const excludes = (s.exclude ?? []).map((n) => ` ! -name ${quote(n)}`).join('');
  // -L: follow links (kubelet-client-current.pem is one); -type f then means "resolves to a regular file".
  return `find -L ${quote(s.dir)}${s.recursive ? '' : ' -maxdepth 1'} -type f \\( ${names} \\)${excludes} 2>/dev/null`;
}

/**
 * One POSIX sh script for all sources. Output: one line per file, `<kind>\t<path>\t<base64 of filtered content>`
 * (or `unreadable\t<path>\t`), then an end marker, so a cut-off answer is noticed rather than read as "no files".
 */
export function readCertificatesScript(sources: readonly CertSource[]): string {
  const lines = [
    `pem_certs() { sed -n ${quote(PEM_CERTS_SED)} "$1"; }`,
    `kubeconfig_users() { awk ${quote(KUBECONFIG_FILTER_AWK)} "$1"; }`,
    'emit() {',
    '  case $1 in cert) filter=pem_certs ;; *) filter=kubeconfig_users ;; esac',
    '  if data=$($filter "$2"); then',
    `    printf '%s\\t%s\\t' "$1" "$2"; printf '%s' "$data" | base64 -w0; printf '\\n'`,
    `  else printf 'unreadable\\t%s\\t\\n' "$2"; fi`,
    '}',
    ...sources.map(
      (s) =>
        `if [ -d ${quote(s.dir)} ]; then ${findCommand(s)} | LC_ALL=C sort | while IFS= read -r f; do emit ${s.kind} "$f"; done; fi`,
    ),
    `echo ${END_MARKER}`,
  ];
  return lines.join('\n');
}

export interface RemoteFile {
  kind: CertSource['kind'] | 'unreadable';
  path: string;
  content: string;
}

export function parseScriptOutput(stdout: string): RemoteFile[] {
  const lines = stdout.split('\n');
  if (!lines.includes(END_MARKER)) throw new Error('certificate listing ended early (no end marker)');
  const files: RemoteFile[] = [];
  for (const line of lines) {
    const [kind, path, data] = line.split('\t');
    if (path === undefined || (kind !== 'cert' && kind !== 'kubeconfig' && kind !== 'unreadable')) continue;
    files.push({ kind, path, content: Buffer.from(data ?? '', 'base64').toString('utf8') });
  }
  return files;
}

const pemBlock = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

export const pemCertificates = (text: string): string[] => text.match(pemBlock) ?? [];

/** The client certificates embedded in a kubeconfig (users[].user.client-certificate-data), by user name. */
export function parseKubeconfigCertificates(text: string): { user: string; pem: string }[] {
  const doc = parseYaml(text) as { users?: unknown } | null;
  const users = Array.isArray(doc?.users) ? (doc.users as unknown[]) : [];
  const out: { user: string; pem: string }[] = [];
  for (const [i, u] of users.entries()) {
    const entry = (u ?? {}) as { name?: unknown; user?: { 'client-certificate-data'?: unknown } | null };
    const data = entry.user?.['client-certificate-data'];
    if (typeof data !== 'string' || data.trim() === '') continue;
    const name = typeof entry.name === 'string' ? entry.name : `user${i + 1}`;
    for (const pem of pemCertificates(Buffer.from(data.replace(/\s+/g, ''), 'base64').toString('utf8'))) {
      out.push({ user: name, pem });
    }
  }
  return out;
}

export interface ParsedFiles {
  certificates: CertFact[];
  problems: { path: string; message: string }[];
}

function fact(pem: string, path: string, source: CertSource['kind']): CertFact {
  const info = parseCertificate(pem);
  return {
    path,
    source,
    ...(info.subjectCommonName !== undefined && { subject: info.subjectCommonName }),
    ...(info.issuerCommonName !== undefined && { issuer: info.issuerCommonName }),
    notBefore: info.notBefore.toISOString(),
    notAfter: info.notAfter.toISOString(),
    isCa: info.isCa,
    serial: info.serial,
    sha256Fingerprint: info.sha256Fingerprint,
  };
}

/** Certificate facts from the script's files; a file that yields nothing readable becomes a problem, not a throw. */
export function certificateFacts(files: RemoteFile[]): ParsedFiles {
  const result: ParsedFiles = { certificates: [], problems: [] };
  for (const f of files) {
    if (f.kind === 'unreadable') {
      result.problems.push({ path: f.path, message: 'cannot read the file' });
      continue;
    }
    try {
      if (f.kind === 'cert') {
        const pems = pemCertificates(f.content);
        if (pems.length === 0) result.problems.push({ path: f.path, message: 'no PEM certificate in the file' });
        pems.forEach((pem, i) => result.certificates.push(fact(pem, i === 0 ? f.path : `${f.path}#${i + 1}`, 'cert')));
      } else {
        // A kubeconfig without embedded client certificates (kubelet.conf points at a file; exec plugins, tokens)
        // gives no rows: what it points at is read from its own directory.
        const certs = parseKubeconfigCertificates(f.content);
        const users = new Set(certs.map((c) => c.user));
        certs.forEach((c, i) => {
          const suffix = users.size > 1 ? `#${c.user}` : i > 0 ? `#${i + 1}` : '';
          result.certificates.push(fact(c.pem, `${f.path}${suffix}`, 'kubeconfig'));
        });
      }
    } catch (err) {
      // Only a parser's message: it never contains the file's content.
      result.problems.push({ path: f.path, message: `cannot parse: ${(err as Error).message}` });
    }
  }
  return result;
}
