// keepalived.conf for the apiserver VIP, after kubeadm's HA guide (docs/ha-considerations.md in
// kubernetes/kubeadm): one VRRP instance on the masters, a check script on the local apiserver whose failure
// lowers this master's priority below every healthy peer, so the VIP leaves a master whose apiserver is down.
// Unicast peers instead of multicast: clouds and many datacenter networks drop VRRP multicast. No VRRP password:
// it travels in clear text (RFC 3768 dropped it) and would be a secret in a world-readable file.

export const KEEPALIVED_CONF = '/etc/keepalived/keepalived.conf';
export const KEEPALIVED_CHECK_SCRIPT = '/etc/keepalived/check_apiserver.sh';

/** Unicast VRRP towards the other masters. A single master has none: keepalived refuses an empty unicast_peer
 * block, and with no peer there is nobody to advertise to, so the section is left out (it then holds the VIP alone). */
function unicast(s: KeepalivedSettings): string {
  if (!s.peers.length) return '';
  return `  unicast_src_ip ${s.self.address}
  unicast_peer {
${s.peers.map((p) => `    ${p}`).join('\n')}
  }
`;
}

export interface KeepalivedSettings {
  /** This master's name (router_id) and address (unicast source). */
  self: { name: string; address: string };
  /** The other masters' addresses. */
  peers: string[];
  /** 0 for the primary master, 1, 2 … for the others: the VIP starts on the lowest. */
  rank: number;
  vip: { address: string; prefixLength: number; interface: string; virtualRouterId: number };
  /** The local apiserver port the check script asks. */
  apiserverPort: number;
}

/** A failing check subtracts this: more than the priority spread of any realistic set of masters. */
export const CHECK_WEIGHT = 50;
const BASE_PRIORITY = 150;

/**
 * The VIP is added with noprefixroute: no subnet route of its own, so it is never the source address of this
 * master's own connections. Without it, a vip.prefixLength longer than the master's own address's (a /25 VIP on a
 * /24 host) adds a more specific route with the VIP as source, and the master's etcd then dials other members from
 * the VIP: etcd refuses a peer whose address its certificate does not name, and a member that joins while the
 * leader holds the VIP never catches up (setup-etcd-members.test.ts, h4 "started, not healthy yet"). With equal
 * prefixes the flag changes nothing (the host's own subnet route is there already).
 */
export function renderKeepalivedConf(s: KeepalivedSettings): string {
  if (s.rank < 0 || s.rank >= CHECK_WEIGHT)
    throw new Error(`keepalived rank ${s.rank} out of range 0..${CHECK_WEIGHT - 1}`);
  return `# Managed by kubeadm2ha: the apiserver VIP (changes here are overwritten).
global_defs {
  router_id ${s.self.name}
  enable_script_security
  script_user root
}

vrrp_script check_apiserver {
  script "${KEEPALIVED_CHECK_SCRIPT}"
  interval 2
  timeout 3
  fall 3
  rise 2
  weight -${CHECK_WEIGHT}
}

vrrp_instance k2h_apiserver {
  state BACKUP
  interface ${s.vip.interface}
  virtual_router_id ${s.vip.virtualRouterId}
  priority ${BASE_PRIORITY - s.rank}
  advert_int 1
${unicast(s)}  virtual_ipaddress {
    ${s.vip.address}/${s.vip.prefixLength} dev ${s.vip.interface} noprefixroute
  }
  track_script {
    check_apiserver
  }
}
`;
}

/** The check: the local apiserver answers /livez (anonymous access to it is kubeadm's default). */
export function renderApiserverCheck(port: number): string {
  return `#!/bin/sh
# Managed by kubeadm2ha: keepalived's health check of this master's apiserver.
exec curl -sfk --max-time 2 -o /dev/null https://127.0.0.1:${port}/livez
`;
}
