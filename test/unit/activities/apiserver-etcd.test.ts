// The two edits behind the API servers' etcd servers (src/activities/apiserver-etcd.ts): the manifest's one flag,
// and kubeadm-config's endpoints, each leaving everything else as it was.
import { describe, expect, it } from 'vitest';
import { runsWithEtcdServers, withEtcdServers, withExternalEndpoints } from '../../../src/activities/apiserver-etcd.js';

const manifest = `apiVersion: v1
kind: Pod
spec:
  containers:
  - command:
    - kube-apiserver
    - --etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key
    - --etcd-servers=https://10.0.0.1:2379,https://10.0.0.2:2379,https://10.0.0.3:2379
    - --secure-port=6443
`;

describe("the API servers' etcd servers", () => {
  it('sets only --etcd-servers in the manifest, as kubeadm renders it (comma-joined, in order)', () => {
    const out = withEtcdServers(manifest, ['https://10.0.0.1:2379', 'https://10.0.0.4:2379']);
    expect(out).toBe(
      manifest.replace(
        'https://10.0.0.1:2379,https://10.0.0.2:2379,https://10.0.0.3:2379',
        'https://10.0.0.1:2379,https://10.0.0.4:2379',
      ),
    );
    expect(withEtcdServers('kind: Pod\n', ['https://x:2379'])).toBeUndefined();
  });

  it("sets kubeadm-config's etcd.external.endpoints and keeps the rest; none for stacked etcd", () => {
    const config = [
      'apiServer: {}',
      'etcd:',
      '  external:',
      '    caFile: /etc/kubernetes/pki/etcd/ca.crt',
      '    endpoints:',
      '    - https://10.0.0.1:2379',
      '    keyFile: /etc/kubernetes/pki/apiserver-etcd-client.key',
      'kind: ClusterConfiguration',
      '',
    ].join('\n');
    expect(withExternalEndpoints(config, ['https://10.0.0.1:2379', 'https://10.0.0.2:2379'])).toBe(
      config.replace('    - https://10.0.0.1:2379\n', '    - https://10.0.0.1:2379\n    - https://10.0.0.2:2379\n'),
    );
    expect(withExternalEndpoints('etcd:\n  local:\n    dataDir: /var/lib/etcd\n', ['https://x:2379'])).toBeUndefined();
  });

  it('knows the restarted pod by its flag as a set of servers, as the manifest update counts it done', () => {
    const servers = ['https://10.0.0.1:2379', 'https://10.0.0.2:2379', 'https://10.0.0.3:2379'];
    const command = (flag: string) =>
      JSON.stringify(['kube-apiserver', '--secure-port=6443', `--etcd-servers=${flag}`]);
    expect(runsWithEtcdServers(command(servers.join(',')), servers)).toBe(true);
    expect(runsWithEtcdServers(command([...servers].reverse().join(',')), servers)).toBe(true);
    expect(runsWithEtcdServers(command(servers.slice(0, 2).join(',')), servers)).toBe(false);
    expect(runsWithEtcdServers(JSON.stringify(['kube-apiserver']), servers)).toBe(false);
    expect(runsWithEtcdServers('', servers)).toBe(false);
  });
});
