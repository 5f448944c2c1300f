// Whom the worker trusts over SSH: host-key policy, known_hosts file, private keys and the ssh config they may come
// from. These belong to the worker's own configuration, never to workflow input: history is written by whoever
// can start a workflow, and input that chose them could make the worker record any key it is shown (accept-new),
// append lines to any file it can write (knownHostsFile) or sign in with any key it can read (identityFile).
//
// Where a worker gets its trust:
//   - the worker the CLI embeds: from the inventory file the operator handed to the CLI (sshTrustOf), since that
//     process is the operator's own;
//   - `kubeadm2ha worker`: from its flags (--known-hosts, --host-key-policy, --identity, --ssh-config, --no-agent)
//     and/or an inventory file it is given with --inventory; by default strict, ~/.ssh/known_hosts, the keys ssh
//     config names or ~/.ssh/id_*, and the agent.
// The input's own values for these fields are ignored (see withTrust for why not refused).
import type { Inventory, SshSettings } from '../inventory/schema.js';
import type { HostTarget } from '../plan/types.js';
import type { SshTarget } from '../ssh/index.js';

export interface SshTrust {
  /** `strict` refuses hosts not in known_hosts; `accept-new` records them. A changed key is always refused. */
  hostKeyPolicy: 'strict' | 'accept-new';
  /** Default ~/.ssh/known_hosts. */
  knownHostsFile?: string;
  /** Key for every host (and bastion); default: ssh config's IdentityFile, else ~/.ssh/id_*. */
  identityFile?: string;
  /** Keys for single hosts, by inventory host name (an inventory's hosts[].ssh.identityFile). */
  hostIdentityFiles?: Record<string, string>;
  /** OpenSSH client config; default ~/.ssh/config if present. */
  configFile?: string;
  useAgent: boolean;
}

export const DEFAULT_SSH_TRUST: SshTrust = { hostKeyPolicy: 'strict', useAgent: true };

/** The trust an inventory file the worker's owner gave it expresses. */
export function sshTrustOf(inventory: Pick<Inventory, 'ssh' | 'hosts'>): SshTrust {
  const { ssh, hosts } = inventory;
  const perHost = hosts.flatMap((h) => (h.ssh?.identityFile ? [[h.name, h.ssh.identityFile] as const] : []));
  return {
    hostKeyPolicy: ssh.hostKeyPolicy,
    useAgent: ssh.useAgent,
    ...(ssh.knownHostsFile !== undefined && { knownHostsFile: ssh.knownHostsFile }),
    ...(ssh.identityFile !== undefined && { identityFile: ssh.identityFile }),
    ...(ssh.configFile !== undefined && { configFile: ssh.configFile }),
    ...(perHost.length > 0 && { hostIdentityFiles: Object.fromEntries(perHost) }),
  };
}

/**
 * The SSH settings a pool gets: the plan's part of the input (user, port, bastion, sudo, timeouts, concurrency)
 * and the worker's trust. What the input says about trust is ignored rather than refused when it differs: a
 * client's inventory legitimately names paths of the client's machine (its own known_hosts and key) that mean
 * nothing to a standalone worker elsewhere, so refusing would make every honest remote run fail or teach people to
 * copy the worker's paths into inventories; ignoring makes the worker's configuration the only source, and a host
 * the worker does not trust fails with HostKeyUnknown naming the worker's known_hosts file.
 */
export function withTrust(ssh: SshSettings, trust: SshTrust): SshSettings {
  const { identityFile: _i, knownHostsFile: _k, configFile: _c, hostKeyPolicy: _p, useAgent: _a, ...plan } = ssh;
  return {
    ...plan,
    hostKeyPolicy: trust.hostKeyPolicy,
    useAgent: trust.useAgent,
    ...(trust.knownHostsFile !== undefined && { knownHostsFile: trust.knownHostsFile }),
    ...(trust.identityFile !== undefined && { identityFile: trust.identityFile }),
    ...(trust.configFile !== undefined && { configFile: trust.configFile }),
  };
}

/** The target as the plan names it, with the key the worker keeps for that host (never the input's). */
export function trustedTarget(target: HostTarget, trust: SshTrust): SshTarget {
  const { identityFile: _ignored, ...plan } = target;
  const key = trust.hostIdentityFiles?.[target.name];
  return key !== undefined ? { ...plan, identityFile: key } : plan;
}
