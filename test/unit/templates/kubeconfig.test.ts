// The kubeconfig template: a client certificate, or (kubeconfig --admin-user) a bearer token, never both.
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { renderKubeconfig } from '../../../src/templates/kubeconfig.js';

const base = { cluster: 'c1', server: 'https://10.0.0.100:8443', caPem: 'CA PEM\n', user: 'admin-user' };
type Config = { users: { name: string; user: Record<string, string> }[]; 'current-context': string };

describe('kubeconfig template', () => {
  it('with a token: the token is the only credential, the CA and server as for certificates', () => {
    const k = parse(renderKubeconfig({ ...base, token: 'eyJ.abc.def' })) as Config & {
      clusters: { cluster: Record<string, string> }[];
    };
    expect(k.users).toEqual([{ name: 'admin-user', user: { token: 'eyJ.abc.def' } }]);
    expect(k.clusters[0]!.cluster).toEqual({
      server: 'https://10.0.0.100:8443',
      'certificate-authority-data': Buffer.from('CA PEM\n').toString('base64'),
    });
    expect(k['current-context']).toBe('admin-user@c1');
  });

  it('with a certificate: its data and key, no token', () => {
    const k = parse(renderKubeconfig({ ...base, certPem: 'CERT', keyPem: 'KEY' })) as Config;
    expect(Object.keys(k.users[0]!.user).sort()).toEqual(['client-certificate-data', 'client-key-data']);
  });
});
