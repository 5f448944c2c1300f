// `etcd setup`'s report in words (src/cli/commands/etcd.ts formatEtcdReport): a run that found every host done by
// the facts ran nothing and says so; a run that replaced a member whose data was lost names it.
import { describe, expect, it } from 'vitest';
import { formatEtcdReport } from '../../../src/cli/commands/etcd.js';
import type { EtcdSetupReport } from '../../../src/plan/etcd.js';

const base: EtcdSetupReport = {
  cluster: 'lab',
  version: '3.4.23',
  members: [],
  endpoints: ['https://10.200.1.11:2379', 'https://10.200.1.12:2379'],
  hosts: [
    { name: 'h1', certificatesChanged: [], certificatesIssued: [], alreadyDone: true },
    { name: 'h2', certificatesChanged: [], certificatesIssued: [], alreadyDone: true },
  ],
  restartedByHealthGate: [],
  healthProbes: 0,
  changed: false,
  stepsRun: 0,
  decisions: [],
};

describe('etcd setup report', () => {
  it('says nothing ran when the facts showed every host done', () => {
    expect(formatEtcdReport(base).split('\n')).toEqual([
      'etcd 3.4.23 for lab: 2 host(s) already as planned (h1, h2)',
      'nothing to change: etcd was already as planned',
    ]);
  });

  it('names the member that was brought back and the ones already as planned', () => {
    const r: EtcdSetupReport = {
      ...base,
      ca: { commonName: 'etcd-ca', sha256Fingerprint: 'ab:cd', notAfter: '2036-12-01T00:00:00Z', created: false },
      clusterId: 'c0ffee',
      members: [
        { id: 'a1', name: 'h1', peerUrls: [], clientUrls: [] },
        { id: 'b2', name: 'h2', peerUrls: [], clientUrls: [] },
      ],
      hosts: [
        base.hosts[0]!,
        {
          name: 'h2',
          certificatesChanged: ['/etc/kubernetes/pki/etcd/server.crt'],
          certificatesIssued: [{ path: '/etc/kubernetes/pki/etcd/server.crt', reasons: ['missing'] }],
          configChanged: ['/etc/etcd/etcd.conf.yml'],
          service: 'started',
          rejoined: 'replaced',
        },
      ],
      changed: true,
      stepsRun: 6,
    };
    expect(formatEtcdReport(r).split('\n')).toEqual([
      'etcd 3.4.23 for lab: 2 member(s) healthy, cluster c0ffee',
      'CA etcd-ca sha256:ab:cd, valid until 2036-12-01T00:00:00Z',
      '  h1: member a1; already as planned',
      '  h2: member b2; issued server.crt; config written; lost its data: removed and added again; started',
      'changes applied',
    ]);
  });
});
