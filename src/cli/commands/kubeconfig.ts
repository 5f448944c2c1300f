// `kubeadm2ha kubeconfig -i <inventory> [--user NAME] [--groups G,…] [--validity 1h] [-o FILE] [--force]`: the seed's
// local-access.yaml. A kubeconfig that reaches the API through the VIP (on the load balancer's port when there is
// one), with a client certificate signed here by the cluster CA from the local PKI store.
//
// No workflow, on purpose: the CA key is on this machine and nowhere else on our side, signing takes milliseconds
// and contacts no host, so there is nothing to make durable or resume. A workflow would also carry the certificate
// and key through Temporal's history (the activity's result), where no key may be; here the key is made in this
// process and goes only into the 0600 file.
//
// `--admin-user` writes the seed's other variant: a token of the dashboard's admin-user service account (bound to
// cluster-admin), minted by the TokenRequest API for --validity (10 min to 1 day) over SSH on the primary master.
// Like the certificate it never passes through a workflow, a log or stdout: it goes only into the 0600 file.
//
// The default group is kubeadm's `kubeadm:cluster-admins` (bound to cluster-admin by `kubeadm init`), not
// `system:masters`: deleting that binding revokes every such certificate, while system:masters can never be revoked
// before the certificate expires. The default validity is one hour, as the seed's token lasted.
import { open, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { adminUserToken } from '../../activities/addons-token.js';
import { LocalPkiStore } from '../../activities/pki-store.js';
import { createSshDeps } from '../../activities/ssh-deps.js';
import { sshTrustOf } from '../../activities/ssh-trust.js';
import { InvalidInputError } from '../../errors.js';
import type { Inventory } from '../../inventory/schema.js';
import { controlPlaneEndpoint } from '../../plan/cluster-config.js';
import { issueCertificate, parseCertificate } from '../../pki/index.js';
import { ADMIN_USER } from '../../templates/addons/dashboard.js';
import { renderKubeconfig } from '../../templates/kubeconfig.js';
import { addInventoryOption, loadInventoryFile } from '../inventory-operation.js';

interface KubeconfigFlags {
  inventory: string;
  user: string;
  groups: string;
  validity: string;
  output?: string;
  force?: boolean;
  adminUser?: boolean;
}

export interface IssuedKubeconfig {
  path: string;
  user: string;
  groups: string[];
  server: string;
  notAfter: string;
}

export const DEFAULT_GROUP = 'kubeadm:cluster-admins';
const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** "90s", "15m", "1h", "7d" → seconds. */
export function parseValidity(v: string): number {
  const m = /^([1-9]\d*)([smhd])$/.exec(v.trim());
  if (!m) throw new InvalidInputError(`--validity must be a number with s, m, h or d (e.g. 1h), not ${v}`);
  return Number(m[1]) * UNITS[m[2]!]!;
}

/** Write `text` to `path` as 0600; an existing file is kept unless `force` (then replaced atomically). */
async function writePrivate(path: string, text: string, force: boolean): Promise<void> {
  const target = force ? join(dirname(path), `.${Date.now()}-${process.pid}.kubeconfig.tmp`) : path;
  let fh;
  try {
    // 'wx': O_CREAT|O_EXCL, so an existing file (or a link planted in its place) is never written through.
    fh = await open(target, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST')
      throw new InvalidInputError(`${path} exists; pass --force to replace it`);
    throw err;
  }
  try {
    await fh.writeFile(text);
    await fh.chmod(0o600);
  } finally {
    await fh.close();
  }
  if (force) {
    try {
      await rename(target, path);
    } catch (err) {
      await rm(target, { force: true });
      throw err;
    }
  }
}

async function clusterCa(inv: Inventory) {
  const ca = await LocalPkiStore.forCluster(inv.cluster.name).readCa('ca');
  if (!ca) {
    throw new InvalidInputError(
      `no cluster CA of ${inv.cluster.name} in the local store: run \`kubeadm2ha setup\` first, from this machine ` +
        '(or with the same KUBEADM2HA_STATE_DIR)',
    );
  }
  return ca;
}

/** A kubeconfig with a fresh admin-user token (TokenRequest), through the VIP; the token goes only into the file. */
export async function issueAdminUserKubeconfig(
  inv: Inventory,
  o: { validitySeconds: number; path: string; force?: boolean },
): Promise<IssuedKubeconfig> {
  const ca = await clusterCa(inv);
  const server = `https://${controlPlaneEndpoint(inv)}`;
  const deps = createSshDeps(sshTrustOf(inv));
  let token;
  try {
    token = await adminUserToken(deps, inv, o.validitySeconds);
  } finally {
    await deps.close();
  }
  // The expiry the API server granted, from the token's own claims (a JWT): it may cap what was asked for.
  const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString() || '{}') as {
    exp?: number;
  };
  const user = ADMIN_USER.name;
  await writePrivate(
    o.path,
    renderKubeconfig({ cluster: inv.cluster.name, server, caPem: ca.certPem, user, token }),
    Boolean(o.force),
  );
  return {
    path: o.path,
    user: `system:serviceaccount:${ADMIN_USER.namespace}:${ADMIN_USER.name}`,
    groups: [],
    server,
    notAfter: claims.exp ? new Date(claims.exp * 1000).toISOString() : 'unknown',
  };
}

export async function issueKubeconfig(
  inv: Inventory,
  o: { user: string; groups: string[]; validitySeconds: number; path: string; force?: boolean; now?: Date },
): Promise<IssuedKubeconfig> {
  if (!o.user.trim()) throw new InvalidInputError('--user must not be empty');
  const ca = await clusterCa(inv);
  const server = `https://${controlPlaneEndpoint(inv)}`;
  const { certPem, keyPem } = await issueCertificate({
    ca,
    commonName: o.user,
    organization: o.groups,
    keyType: inv.cluster.pki.keyType,
    validitySeconds: o.validitySeconds,
    usages: 'client',
    ...(o.now && { now: o.now }),
  });
  await writePrivate(
    o.path,
    renderKubeconfig({ cluster: inv.cluster.name, server, caPem: ca.certPem, user: o.user, certPem, keyPem }),
    Boolean(o.force),
  );
  return {
    path: o.path,
    user: o.user,
    groups: o.groups,
    server,
    notAfter: parseCertificate(certPem).notAfter.toISOString(),
  };
}

export async function kubeconfig(flags: KubeconfigFlags): Promise<IssuedKubeconfig> {
  const inventory = await loadInventoryFile(flags.inventory);
  if (flags.adminUser) {
    const issued = await issueAdminUserKubeconfig(inventory, {
      validitySeconds: parseValidity(flags.validity),
      path: flags.output ?? `${inventory.cluster.name}-admin-user.kubeconfig`,
      force: Boolean(flags.force),
    });
    console.log(`wrote ${issued.path} (0600): ${issued.user} token → ${issued.server}, valid until ${issued.notAfter}`);
    return issued;
  }
  const groups = flags.groups
    .split(',')
    .map((g) => g.trim())
    .filter(Boolean);
  const issued = await issueKubeconfig(inventory, {
    user: flags.user,
    groups,
    validitySeconds: parseValidity(flags.validity),
    path: flags.output ?? `${inventory.cluster.name}-${flags.user}.kubeconfig`,
    force: Boolean(flags.force),
  });
  console.log(
    `wrote ${issued.path} (0600): ${issued.user}${groups.length ? ` in ${groups.join(', ')}` : ''} → ${issued.server}, ` +
      `valid until ${issued.notAfter}`,
  );
  return issued;
}

export function register(program: Command): void {
  addInventoryOption(
    program
      .command('kubeconfig')
      .description('a kubeconfig through the VIP/load balancer, its client certificate signed by the local cluster CA'),
  )
    .option('--user <name>', 'user name (the certificate CN)', 'kubeadm2ha-admin')
    .option('--groups <groups>', 'comma-separated groups (one certificate O each); empty for none', DEFAULT_GROUP)
    .option('--validity <duration>', 'how long the certificate is valid: 90s, 15m, 1h, 7d', '1h')
    .option('-o, --output <file>', 'where to write it (default: ./<cluster>-<user>.kubeconfig)')
    .option('--force', 'replace the output file if it exists')
    .option(
      '--admin-user',
      "instead of a certificate: a short-lived token of the dashboard's admin-user (10m to 1d; needs the dashboard addon)",
    )
    .action(async (flags: KubeconfigFlags) => {
      await kubeconfig(flags);
    });
}
