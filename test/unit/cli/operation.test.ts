// What a run is listed and headed by in the Web UI (src/cli/operation.ts): the command the operator ran, the
// cluster, what tells the run apart; short enough for Temporal's user-metadata limits once encrypted.
import { describe, expect, it } from 'vitest';
import { DETAILS_MAX_HOSTS, runStaticDetails, runSummary, SUMMARY_MAX_BYTES } from '../../../src/cli/operation.js';

describe('run summary', () => {
  it('names the command, not the command group: etcd setup and etcd restore read differently', () => {
    expect(runSummary({ command: 'etcd setup', cluster: 'lab1' })).toBe('etcd setup of lab1');
    expect(runSummary({ command: 'etcd restore', cluster: 'lab1', about: 'from s.db' })).toBe(
      'etcd restore of lab1 from s.db',
    );
    expect(runSummary({ command: 'upgrade', cluster: 'lab1', about: 'to 1.34.12' })).toBe('upgrade of lab1 to 1.34.12');
  });

  it('stays on one line and under the byte cap, cut at a character', () => {
    const long = runSummary({ command: 'etcd restore', cluster: 'lab1', about: `from ${'é'.repeat(400)}\n.db` });
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(SUMMARY_MAX_BYTES);
    expect(long).toMatch(/^etcd restore of lab1 from é+…$/);
    expect(runSummary({ command: 'etcd restore', cluster: 'lab1', about: 'from a\nb\t.db' })).toBe(
      'etcd restore of lab1 from a b .db',
    );
  });

  it('details name the command and workflow type, and list at most the first hosts', () => {
    const hosts = Array.from({ length: 500 }, (_, i) => `host-${i}`);
    const details = runStaticDetails({
      workflowType: 'restoreEtcdSnapshot',
      operation: 'etcd',
      command: 'etcd restore',
      cluster: 'lab1',
      kubernetesVersion: '1.34.12',
      hosts,
    });
    expect(details).toContain('operation: **etcd restore** (restoreEtcdSnapshot)');
    expect(details).toContain(`hosts (500): host-0, host-1,`);
    expect(details).toContain(`host-${DETAILS_MAX_HOSTS - 1}, … (${500 - DETAILS_MAX_HOSTS} more)`);
    expect(details).not.toContain(`host-${DETAILS_MAX_HOSTS},`);
  });
});
