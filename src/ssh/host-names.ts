// The last check on host strings before they reach a socket, a bastion's direct-tcpip request or a known_hosts
// line. They come from workflow input (the plan) and from ssh config, and a known_hosts line is only as safe as its
// host field: a newline there adds lines, a `*`, `?`, `!` or `,` turns it into a pattern that trusts the recorded
// key for other hosts. The inventory schema checks addresses too, but the SSH layer does not rely on its callers.
import { isIPv6 } from 'node:net';
import { InvalidInputError } from '../errors.js';

const ipv4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
// RFC 1123 names; `_` is allowed because real ssh configs name hosts with it (OpenSSH accepts it too).
const dnsName =
  /^(?=.{1,253}$)[A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9_])?(\.[A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9_])?)*\.?$/;

/** A DNS name, an IPv4 address or an IPv6 address (without brackets or zone). */
export function isHostName(s: string): boolean {
  return ipv4.test(s) || dnsName.test(s) || (isIPv6(s) && !s.includes('%'));
}

/**
 * Throws a non-retryable InvalidInput naming the inventory host `forHost` when `value` is not a host name.
 * `what` says which string it was (address, bastion, ssh config HostName), for the message.
 */
export function requireHostName(forHost: string, what: string, value: string): string {
  if (!isHostName(value))
    throw new InvalidInputError(
      `${forHost}: ${what} ${JSON.stringify(value)} is not a host name, IPv4 or IPv6 address; refusing to connect`,
    );
  return value;
}
