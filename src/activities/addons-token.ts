// A short-lived token of the dashboard's admin-user, minted on demand through the TokenRequest API
// (`kubectl create token`). Deliberately NOT an activity: an activity's result is stored in workflow history, and
// this token is a cluster-admin credential. The CLI calls it directly over SSH (the same kubectl path as the
// activities, admin kubeconfig from the local store) and prints it; nothing keeps it, and it expires by itself.
import type { Inventory } from '../inventory/schema.js';
import { InvalidInputError } from '../errors.js';
import { primaryMaster, targetOf } from '../plan/topology.js';
import { ADMIN_USER } from '../templates/addons/dashboard.js';
import type { ActivityDeps } from './deps.js';
import { createKubectl, type KubeApiOptions } from './kube-api.js';

/** TokenRequest's own bounds: at least 10 minutes; we cap at a day so "short-lived" stays true. */
export const TOKEN_MIN_SECONDS = 600;
export const TOKEN_MAX_SECONDS = 86_400;

export async function adminUserToken(
  deps: ActivityDeps,
  inv: Inventory,
  durationSeconds: number,
  opts: KubeApiOptions = {},
): Promise<string> {
  if (!Number.isInteger(durationSeconds) || durationSeconds < TOKEN_MIN_SECONDS || durationSeconds > TOKEN_MAX_SECONDS)
    throw new InvalidInputError(
      `token duration must be ${TOKEN_MIN_SECONDS}–${TOKEN_MAX_SECONDS} seconds, got ${durationSeconds}`,
    );
  const { kubectl } = createKubectl(deps, opts);
  const out = await kubectl({
    via: { target: targetOf(primaryMaster(inv)), ssh: inv.ssh },
    cluster: inv.cluster.name,
    args: ['-n', ADMIN_USER.namespace, 'create', 'token', ADMIN_USER.name, `--duration=${durationSeconds}s`],
  });
  const token = out.trim();
  if (!/^[A-Za-z0-9_.-]+$/.test(token))
    throw new InvalidInputError('the cluster answered something that is not a token (is the dashboard addon applied?)');
  return token;
}
