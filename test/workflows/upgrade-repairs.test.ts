// The upgrade's node repairs on the real-Kubernetes lab (issue 12, left over), on the smallest cluster that shows
// both: 2 masters (h1 with the one external etcd member) + 1 worker, set up by the setup workflow at the lab's
// previous version, then upgraded to the current one by upgradeCluster with the real activities.
// - containerd's sandbox image: setup wrote the previous version's pause (3.10); kubeadm of the target names 3.10.1
//   and warns when containerd differs. After the upgrade every node's containerd runs the target's pause, and the
//   target kubeadm's own image check (its preflight on a master) no longer warns.
// - the CRI socket: h3's Node loses kubeadm's cri-socket annotation before the upgrade (a worker joined before
//   f806974, whose join was cut short after the TLS bootstrap); `kubeadm upgrade node` refuses such a node, so
//   without the repair the run fails at h3 (onFailure abort: it fails instead of parking at a decision).
// Then setSandboxImage directly: a second call changes nothing; a restart owed by a cut attempt is made.
import { describe, expect, it, vi } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { restartPendingPath } from '../../src/activities/host-config.js';
import { createSshDeps } from '../../src/activities/ssh-deps.js';
import { sshTrustOf } from '../../src/activities/ssh-trust.js';
import { upgradePlan } from '../../src/cli/commands/upgrade.js';
import { targetOf } from '../../src/plan/topology.js';
import type { RunbookResult } from '../../src/workflows/runbook.js';
import type { UpgradeResult } from '../../src/workflows/upgrade.js';
import { K8S_LAB_VERSIONS } from '../../lab/k8s-binaries.js';
import { ADMIN } from '../support/k8s-cluster.js';
import { labClusterInventory } from '../support/lab-cluster.js';
import { labShell } from '../support/lab-shell.js';
import { labSuite } from '../support/lab-suite.js';
import { perNode } from '../support/upgrade-run.js';

const FROM = K8S_LAB_VERSIONS.previous;
const TO = K8S_LAB_VERSIONS.current;
const ANNOTATION = 'kubeadm.alpha.kubernetes.io/cri-socket';

const suite = labSuite({
  name: 'upgrade-repairs',
  lab: { hosts: 3, version: FROM, versions: [FROM, TO] },
  inventory: (lab) => labClusterInventory(lab, [['primary-master', 'etcd'], ['secondary-master'], ['worker']]),
});
const sh = (host: string, cmd: string): Promise<string> => labShell(suite.lab)(host, cmd);
const note = (line: string): void => void process.stderr.write(`[upgrade repairs] ${line}\n`);

/** The sandbox image containerd's config on a host says (what it runs with since its last start). */
const sandboxOf = async (host: string): Promise<string> =>
  (await sh(host, 'containerd config dump | sed -n "s/^ *sandbox_image = //p"')).trim().replace(/"/g, '');

/** What `kubeadm upgrade node phase preflight` prints on a master: its image pull check compares the container
 * runtime's sandbox image with kubeadm's own and warns ("detected that the sandbox image ... is inconsistent"). */
const kubeadmPreflight = (host: string): Promise<string> => sh(host, 'kubeadm upgrade node phase preflight 2>&1');

describe('upgrade node repairs on the real-Kubernetes lab (2 masters + 1 worker)', () => {
  it(`${FROM} → ${TO}: containerd runs the target's pause on every node; a worker without its CRI socket record is repaired and upgraded`, async () => {
    const repo = suite.inventory.cluster.imageRepository;
    const setup = await suite.run<RunbookResult>('setupCluster', [{ inventory: suite.inventory }]);
    note(`setup at ${FROM}: ${setup.ms} ms`);
    for (const h of ['h1', 'h2', 'h3']) expect(await sandboxOf(h)).toBe(`${repo}/pause:3.10`);
    // h3 as a worker joined before f806974 may be: no annotation, no kubelet instance config.
    await sh('h3', '[ ! -f /var/lib/kubelet/instance-config.yaml ]');
    await sh('h1', `${ADMIN} annotate node h3 ${ANNOTATION}-`);
    const annotation = () =>
      sh(
        'h1',
        `${ADMIN} get node h3 -o jsonpath='{.metadata.annotations.kubeadm\\.alpha\\.kubernetes\\.io/cri-socket}'`,
      );
    expect(await annotation()).toBe('');

    // `upgrade plan` lists the repairs.
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await upgradePlan({ inventory: suite.inventoryFile, to: TO });
      const lines = log.mock.calls.map((c) => String(c[0]));
      expect(lines).toContain(
        `  before kubeadm on each node: containerd sandbox image ${repo}/pause:3.10.1; the CRI socket annotation where missing (each only if not so already)`,
      );
    } finally {
      log.mockRestore();
    }

    const up = await suite.run<UpgradeResult>('upgradeCluster', [
      { inventory: suite.inventory, target: TO, approved: true, onFailure: 'abort' },
    ]);
    const r = up.result;
    note(`upgrade ${up.ms} ms, per node ${JSON.stringify(perNode(r))}`);
    const result = (host: string, step: string) => r.steps.find((s) => s.host === host && s.step === step)?.result;
    for (const h of ['h1', 'h2', 'h3']) {
      expect(result(h, 'setSandboxImage'), h).toMatchObject({
        image: `${repo}/pause:3.10.1`,
        before: `${repo}/pause:3.10`,
        changed: true,
        action: 'restarted',
      });
      expect(await sandboxOf(h)).toBe(`${repo}/pause:3.10.1`);
    }
    expect(result('h3', 'ensureCriSocket')).toEqual({ host: 'h3', state: 'annotated' });
    expect(result('h2', 'ensureCriSocket')).toEqual({ host: 'h2', state: 'present' });
    expect(r.steps.filter((s) => /kubeadmUpgrade/.test(s.step)).map((s) => `${s.host}:${s.step}`)).toEqual([
      'h1:kubeadmUpgradeApply',
      'h2:kubeadmUpgradeNode',
      'h3:kubeadmUpgradeNode',
    ]);
    expect(r.after.map((n) => [n.name, n.kubelet, n.ready, n.cordoned])).toEqual([
      ['h1', TO, true, false],
      ['h2', TO, true, false],
      ['h3', TO, true, false],
    ]);
    // kubeadm 1.34 read the annotation and moved the socket into the kubelet's instance config (NodeLocalCRISocket).
    expect(await sh('h3', 'cat /var/lib/kubelet/instance-config.yaml')).toMatch(
      /containerRuntimeEndpoint: "?unix:\/\/\/run\/containerd\/containerd\.sock"?$/m,
    );

    // The target kubeadm compares containerd's running sandbox image with its own: no warning now.
    const preflight = await kubeadmPreflight('h2');
    expect(preflight).toMatch(/\[upgrade\/preflight\] Pulling images required/);
    expect(preflight).not.toMatch(/sandbox image/);

    // setSandboxImage itself: again changes nothing; a restart a cut attempt owed (its marker) is made, once.
    const deps = createSshDeps(sshTrustOf(suite.inventory));
    try {
      const acts = createActivities(deps);
      const host = (name: string) => ({
        target: targetOf(suite.inventory.hosts.find((h) => h.name === name)!),
        ssh: suite.inventory.ssh,
      });
      const image = `${repo}/pause:3.10.1`;
      expect(await acts.setSandboxImage({ host: host('h1'), image })).toMatchObject({ changed: false, action: 'none' });
      await sh(
        'h2',
        `mkdir -p /var/lib/kubeadm2ha/restart-pending && echo ${image} > ${restartPendingPath('containerd')}`,
      );
      expect(await acts.setSandboxImage({ host: host('h2'), image })).toMatchObject({
        changed: false,
        action: 'restarted',
      });
      await sh('h2', `[ ! -e ${restartPendingPath('containerd')} ]`);
      expect(await acts.setSandboxImage({ host: host('h2'), image })).toMatchObject({ action: 'none' });
    } finally {
      await deps.close();
    }
  }, 3_000_000);
});
