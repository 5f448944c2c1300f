// Just enough IPv4 arithmetic for the inventory rules (is this address in that subnet, do two ranges overlap).
export interface Cidr {
  base: number;
  prefix: number;
}

const octets = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function parseIpv4(s: string): number | undefined {
  const m = octets.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return parts.reduce((acc, p) => acc * 256 + p, 0);
}

/** Looks like a dotted quad (so it is not meant as a DNS name), whether or not the numbers are in range. */
export const looksLikeIpv4 = (s: string): boolean => octets.test(s);

export function formatIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

const size = (prefix: number): number => 2 ** (32 - prefix);

/** The network an address belongs to at a prefix length. */
export const networkOf = (addr: number, prefix: number): number => addr - (addr % size(prefix));

export function parseCidr(s: string): Cidr | undefined {
  const [ip, len, extra] = s.split('/');
  if (extra !== undefined || ip === undefined || len === undefined || !/^\d{1,2}$/.test(len)) return undefined;
  const base = parseIpv4(ip);
  const prefix = Number(len);
  if (base === undefined || prefix > 32) return undefined;
  return { base, prefix };
}

export const hasHostBits = (c: Cidr): boolean => networkOf(c.base, c.prefix) !== c.base;

export const formatCidr = (c: Cidr): string => `${formatIpv4(c.base)}/${c.prefix}`;

export const contains = (c: Cidr, addr: number): boolean => networkOf(addr, c.prefix) === networkOf(c.base, c.prefix);

export function overlaps(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return networkOf(a.base, p) === networkOf(b.base, p);
}
