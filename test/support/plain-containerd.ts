// containerd as the images and preflight-probe tests need it on a namespace lab host: the host's own 1.6 from
// /usr/bin with its CRI plugin off (ctr, the content store and images only; no kubelet), started in the background.
import type { Lab } from '../../lab/index.js';
import { writeFileCommand } from '../../lab/k8s/node.js';
import { pollUntil } from './poll.js';

export const PLAIN_CONTAINERD_CONFIG = 'version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n';

/** Writes that config, runs `before` in the same shell, starts containerd, and returns once `ctr version` answers. */
export async function startPlainContainerd(
  lab: Pick<Lab, 'exec'>,
  host: string,
  before: readonly string[] = [],
): Promise<void> {
  await lab.exec(
    host,
    [
      writeFileCommand('/etc/containerd/config.toml', PLAIN_CONTAINERD_CONFIG),
      ...before,
      'setsid nohup /usr/bin/containerd </dev/null >>/var/log/containerd.log 2>&1 & true',
    ].join(' && '),
  );
  await pollUntil(
    async () => (await lab.exec(host, 'ctr --timeout 2s version', { allowFail: true })).code === 0,
    `containerd answering on ${host}`,
    60_000,
    200,
  );
}
