// containerd's config.toml (version 2, containerd 1.6/1.7) for a kubeadm node, and the per-registry hosts.toml files
// containerd reads from certs.d for mirrors and plain-HTTP registries (registry.config_path).

export const CONTAINERD_CONFIG = '/etc/containerd/config.toml';
export const CONTAINERD_CERTS_D = '/etc/containerd/certs.d';

export interface ContainerdSettings {
  /** systemd: runc delegates cgroups to systemd (SystemdCgroup), as the kubelet must too. */
  cgroupDriver: 'systemd' | 'cgroupfs';
  sandboxImage: string;
  restrictOomScoreAdj: boolean;
  /** Where the CNI plugins live: /opt/cni/bin (upstream) or /usr/lib/cni (Debian's containernetworking-plugins). */
  cniBinDir: string;
}

/** A TOML basic string: they escape like JSON strings. */
export const tomlString = (s: string): string => JSON.stringify(s);

export function renderContainerdConfig(s: ContainerdSettings): string {
  return `# Managed by kubeadm2ha (changes here are overwritten).
version = 2

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ${tomlString(s.sandboxImage)}
  restrict_oom_score_adj = ${s.restrictOomScoreAdj}
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = ${tomlString(s.cniBinDir)}
    conf_dir = "/etc/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = ${tomlString(CONTAINERD_CERTS_D)}
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = ${s.cgroupDriver === 'systemd'}
`;
}

export interface RegistryHosts {
  host: string;
  endpoints: string[];
  skipVerify: boolean;
}

export const hostsTomlPath = (host: string): string => `${CONTAINERD_CERTS_D}/${host}/hosts.toml`;

/** certs.d/<host>/hosts.toml: the endpoints are tried in order; the first is also the fallback server. */
export function renderHostsToml(r: RegistryHosts): string {
  if (!/^[a-zA-Z0-9.-]+(:\d{1,5})?$/.test(r.host)) throw new Error(`invalid registry host ${JSON.stringify(r.host)}`);
  const [first] = r.endpoints;
  if (first === undefined) throw new Error(`registry ${r.host} has no endpoint`);
  return `# Managed by kubeadm2ha (changes here are overwritten).
server = ${tomlString(first)}
${r.endpoints
  .map(
    (e) => `
[host.${tomlString(e)}]
  capabilities = ["pull", "resolve"]${r.skipVerify ? '\n  skip_verify = true' : ''}`,
  )
  .join('\n')}
`;
}
