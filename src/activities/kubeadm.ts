// kubeadm init and joins. `kubeadmInit` writes the rendered InitConfiguration (no secrets in it) and runs
// `kubeadm init` with token and certificate-key printing switched off. `joinNode` is ONE activity per joining
// node: on the primary it creates a fresh bootstrap token (and, for a control-plane join, uploads the certificates
// under a fresh certificate key), fills the join file's placeholders in memory, sends the file over SSH stdin into a
// 0600 file on the joiner, runs `kubeadm join`, and deletes the file and the token. The secrets never appear in an
// argument list, a result, a heartbeat or a log line; errors are redacted (src/ssh/redact.ts) on the way out.
import { createHash, X509Certificate } from 'node:crypto';
import { CommandFailedError, FailureType, KubeadmHaError } from '../errors.js';
import type { HostContext } from '../plan/types.js';
import type { HostSession } from '../ssh/index.js';
import { CRI_SOCKET, fillJoinSecrets } from '../templates/kubeadm.js';
import { keepAlive } from './activity-context.js';
import type { ActivityDeps } from './deps.js';
import { withFailures } from './failures.js';

export const KUBEADM2HA_DIR = '/etc/kubernetes/kubeadm2ha';
export const INIT_CONFIG = `${KUBEADM2HA_DIR}/kubeadm-init.yaml`;
export const JOIN_CONFIG = `${KUBEADM2HA_DIR}/kubeadm-join.yaml`;
const APISERVER_MANIFEST = '/etc/kubernetes/manifests/kube-apiserver.yaml';
const KUBELET_CONF = '/etc/kubernetes/kubelet.conf';

export interface KubeadmInitInput {
  host: HostContext;
  /** renderInitConfiguration's text. */
  config: string;
}

export interface KubeadmInitResult {
  host: string;
  /** False when the node already ran a control plane (a rerun). */
  initialized: boolean;
  configChanged: boolean;
  durationMs: number;
}

export interface JoinNodeInput {
  /** Where tokens and certificate keys are made: a master that is up (the primary). */
  primary: HostContext;
  host: HostContext;
  /** renderJoinConfiguration's text, placeholders in place of secrets. */
  config: string;
  controlPlane: boolean;
}

export interface JoinNodeResult {
  host: string;
  joined: boolean;
  durationMs: number;
  /** A node found joined whose Node object lacked kubeadm's CRI socket annotation (and that has no kubelet instance
   * config): the annotation was written now. */
  criSocketRecorded?: true;
}

/** kubeadm's discovery hash: SHA-256 of the CA certificate's SubjectPublicKeyInfo (DER). */
export function caCertHash(caPem: string): string {
  const spki = new X509Certificate(caPem).publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

const already = (paths: string[]) => ({ script: paths.map((p) => `[ -f '${p}' ]`).join(' && ') });

// $1 node name, $2 CRI socket. The last thing `kubeadm join` (up to 1.33) does, in its kubelet-wait-bootstrap phase,
// is record the node's CRI socket as an annotation of its Node object, which `kubeadm upgrade node` reads (or, with
// NodeLocalCRISocket, 1.34+, /var/lib/kubelet/instance-config.yaml). When the kubelet finished its TLS bootstrap but
// had not registered the Node yet, the join fails there ("error writing CRISocket for this node: nodes "h4" not
// found", seen on a loaded lab) and its retry finds kubelet.conf and takes the node as joined: so a joined node is
// given the annotation here when it has neither, with the node's own credentials, as kubeadm does. The kubectl cache
// goes to a temporary dir: a check that finds the annotation leaves nothing behind.
const criSocketScript = [
  'set -e',
  'node=$1 socket=$2',
  '[ ! -f /var/lib/kubelet/instance-config.yaml ] || { echo state=local; exit 0; }',
  'cache=$(mktemp -d)',
  'trap \'rm -rf -- "$cache"\' EXIT',
  'k() { kubectl --kubeconfig /etc/kubernetes/kubelet.conf --cache-dir "$cache" "$@"; }',
  // The kubelet registers its Node right after the bootstrap; give it two minutes.
  'i=0',
  'until k get node "$node" -o name >/dev/null 2>&1; do',
  '  i=$((i + 1)); [ $i -lt 60 ] || { echo "node $node is not registered" >&2; exit 1; }; sleep 2',
  'done',
  '[ -z "$(k get node "$node" -o jsonpath="{.metadata.annotations.kubeadm\\.alpha\\.kubernetes\\.io/cri-socket}")" ] || { echo state=present; exit 0; }',
  'k annotate node "$node" "kubeadm.alpha.kubernetes.io/cri-socket=$socket" >/dev/null',
  'echo state=annotated',
].join('\n');

/** Where the node's CRI socket is recorded for `kubeadm upgrade node`: its kubelet instance config (local), the
 * Node's annotation found (present), or the annotation written now (annotated). */
export type CriSocketState = 'local' | 'present' | 'annotated';

/** The node's CRI socket recorded where kubeadm looks for it, unless it already is (criSocketScript). */
export async function recordCriSocket(session: HostSession, node: string): Promise<CriSocketState> {
  const r = await session.run(['sh', '-c', criSocketScript, 'sh', node, CRI_SOCKET], {
    action: "record the node's CRI socket",
    timeoutMs: 180_000,
  });
  const state = /state=(local|present|annotated)/.exec(r.stdout)?.[1];
  if (!state)
    throw new KubeadmHaError(
      `recording the CRI socket of ${node} printed no state: ${r.stdout.trim().slice(-200)}`,
      FailureType.CommandFailed,
      session.name,
    );
  return state as CriSocketState;
}

export function createKubeadmActivities(deps: ActivityDeps) {
  return {
    /**
     * Before `kubeadm upgrade apply|node`: a node joined before joinNode recorded its CRI socket (f806974), whose join
     * was cut short after the TLS bootstrap, has neither the Node annotation nor a kubelet instance config, and
     * kubeadm refuses to upgrade it. Such a node gets the annotation, as its join would have written it; any other
     * node is left as it is.
     */
    async ensureCriSocket({ host }: { host: HostContext }): Promise<{ host: string; state: CriSocketState }> {
      return withFailures(async () => ({
        host: host.target.name,
        state: await recordCriSocket(deps.session(host), host.target.name),
      }));
    },

    async kubeadmInit({ host, config }: KubeadmInitInput): Promise<KubeadmInitResult> {
      return withFailures(async () => {
        const session = deps.session(host);
        const t0 = deps.now();
        // Kept on the host (0600): the certificate upload before each control-plane join reads it again.
        const { changed } = await session.putFile(INIT_CONFIG, config, { mode: 0o600, timeoutMs: 30_000 });
        const done = await session.run(already([APISERVER_MANIFEST, '/etc/kubernetes/admin.conf']), {
          allowNonZero: true,
          action: 'is the control plane initialised',
        });
        if (done.code === 0)
          return { host: host.target.name, initialized: false, configChanged: changed, durationMs: deps.now() - t0 };
        // Output is not returned: even with the printing flags, it is kubeadm's to word.
        await keepAlive(
          session.run(
            ['kubeadm', 'init', '--config', INIT_CONFIG, '--skip-token-print', '--skip-certificate-key-print'],
            {
              action: 'kubeadm init',
              timeoutMs: 900_000,
            },
          ),
          { host: host.target.name, step: 'kubeadm init' },
        );
        return { host: host.target.name, initialized: true, configChanged: changed, durationMs: deps.now() - t0 };
      });
    },

    async joinNode({ primary, host, config, controlPlane }: JoinNodeInput): Promise<JoinNodeResult> {
      return withFailures(async () => {
        const name = host.target.name;
        const joiner = deps.session(host);
        const t0 = deps.now();
        const marks = controlPlane ? [KUBELET_CONF, APISERVER_MANIFEST] : [KUBELET_CONF];
        if ((await joiner.run(already(marks), { allowNonZero: true, action: 'has the node joined' })).code === 0) {
          const cri = await recordCriSocket(joiner, name);
          return {
            host: name,
            joined: false,
            durationMs: deps.now() - t0,
            ...(cri === 'annotated' && { criSocketRecorded: true as const }),
          };
        }

        const first = deps.session(primary);
        const token = (
          await first.run(
            ['kubeadm', 'token', 'create', '--ttl', '15m', '--description', `kubeadm2ha join of ${name}`],
            {
              action: 'kubeadm token create',
              timeoutMs: 120_000,
            },
          )
        ).stdout.trim();
        const tokenId = token.split('.')[0] ?? '';
        try {
          const ca = (await first.getFile('/etc/kubernetes/pki/ca.crt', { timeoutMs: 30_000 })).toString('utf8');
          let certificateKey: string | undefined;
          if (controlPlane) {
            const up = await first.run(
              ['kubeadm', 'init', 'phase', 'upload-certs', '--upload-certs', '--config', INIT_CONFIG],
              {
                action: 'kubeadm init phase upload-certs',
                timeoutMs: 120_000,
              },
            );
            certificateKey = /^[0-9a-f]{64}$/m.exec(up.stdout)?.[0];
            if (!certificateKey)
              throw new KubeadmHaError(
                'kubeadm upload-certs printed no certificate key',
                FailureType.CommandFailed,
                primary.target.name,
              );
          }
          const text = fillJoinSecrets(config, {
            token,
            caCertHash: caCertHash(ca),
            ...(certificateKey && { certificateKey }),
          });
          await joiner.putFile(JOIN_CONFIG, text, { mode: 0o600, timeoutMs: 30_000 });
          try {
            await keepAlive(
              joiner.run(['kubeadm', 'join', '--config', JOIN_CONFIG], {
                action: controlPlane ? 'kubeadm join --control-plane' : 'kubeadm join',
                timeoutMs: 900_000,
              }),
              { host: name, step: 'kubeadm join' },
            );
          } finally {
            await joiner
              .run(['rm', '-f', '--', JOIN_CONFIG], { action: 'remove the join file', timeoutMs: 30_000 })
              .catch(() => undefined);
          }
        } finally {
          // The token would expire in 15 minutes anyway; deleting it closes the window now.
          if (/^[a-z0-9]{6}$/.test(tokenId))
            await first
              .run(['kubeadm', 'token', 'delete', tokenId], { action: 'kubeadm token delete', timeoutMs: 60_000 })
              .catch((e: unknown) => {
                if (!(e instanceof CommandFailedError)) throw e;
              });
        }
        return { host: name, joined: true, durationMs: deps.now() - t0 };
      });
    },
  };
}
