// Subject alternative names: checking what goes in, and reading back what Node prints.
// IPs are compared as bytes, because the same address has many spellings ("::1", "0:0:0:0:0:0:0:1") and Node
// prints IPv6 SANs in its own long form.
import { isIP } from 'node:net';

import { InvalidInputError } from '../errors.js';

export interface SubjectAltNames {
  dnsNames: string[];
  ipAddresses: string[];
}

const dnsName = /^(\*\.)?[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*$/;

/** Rejects anything that would make a useless or misleading SAN; an IP in the DNS list is the usual mistake
 * (TLS clients match an IP only against IP SANs, so it would silently not work). */
export function checkSubjectAltNames(sans: SubjectAltNames): void {
  for (const name of sans.dnsNames) {
    if (isIP(name)) throw new InvalidInputError(`SAN "${name}" is an IP address: pass it in ipAddresses, not dnsNames`);
    if (!dnsName.test(name) || name.length > 253) throw new InvalidInputError(`SAN "${name}" is not a valid DNS name`);
  }
  for (const ip of sans.ipAddresses) {
    if (!isIP(ip)) throw new InvalidInputError(`SAN "${ip}" is not an IPv4 or IPv6 address`);
  }
}

/** One spelling per address, for comparisons and display: dotted quad for IPv4, RFC 5952 for IPv6 ("::1"). */
export function canonicalIp(ip: string): string {
  if (isIP(ip) === 4) return ip.split('.').map(Number).join('.');
  if (isIP(ip) !== 6) return ip;
  const withoutV4 = ip.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_m, a: string, b: string, c: string, d: string) =>
    [((+a << 8) | +b).toString(16), ((+c << 8) | +d).toString(16)].join(':'),
  );
  const [head = '', tail] = withoutV4.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const hextets = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const words = hextets.map((x) => parseInt(x, 16).toString(16));
  // RFC 5952: compress the longest run (two or more) of zero words to "::", the first one on a tie.
  let best = { at: -1, len: 1 };
  for (let i = 0; i < words.length; ) {
    let j = i;
    while (words[j] === '0') j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j === i ? i + 1 : j;
  }
  if (best.at < 0) return words.join(':');
  return `${words.slice(0, best.at).join(':')}::${words.slice(best.at + best.len).join(':')}`;
}

/** Splits Node's X509Certificate#subjectAltName ("DNS:a, IP Address:1.2.3.4"). Node quotes values that contain
 * separators (CVE-2021-44532) as JSON strings, so those are unquoted rather than split. */
export function parseSubjectAltNameText(text: string | undefined): SubjectAltNames {
  const out: SubjectAltNames = { dnsNames: [], ipAddresses: [] };
  if (!text) return out;
  const entry = /(DNS|IP Address|[A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g;
  for (const m of text.matchAll(entry)) {
    const [, kind, raw = ''] = m;
    const value = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    if (kind === 'DNS') out.dnsNames.push(value);
    else if (kind === 'IP Address') out.ipAddresses.push(canonicalIp(value));
  }
  return out;
}

/** The expected names missing from `actual` (DNS case-insensitive, IPs by value), as `DNS:x` / `IP:y`. */
export function missingSans(actual: SubjectAltNames, expected: SubjectAltNames): string[] {
  const dns = new Set(actual.dnsNames.map((n) => n.toLowerCase()));
  const ips = new Set(actual.ipAddresses.map(canonicalIp));
  return [
    ...expected.dnsNames.filter((n) => !dns.has(n.toLowerCase())).map((n) => `DNS:${n}`),
    ...expected.ipAddresses.filter((ip) => !ips.has(canonicalIp(ip))).map((ip) => `IP:${ip}`),
  ];
}
