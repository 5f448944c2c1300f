// Before an upgrade: are the target's images where the nodes will pull them from? (issue 12 item 1). kubeadm upgrade
// apply pulls the control-plane images on the first master, and the kube-proxy DaemonSet and CoreDNS roll onto every
// node as soon as it finishes: an image that exists nowhere breaks the cluster half-way, so the plan checks first.
// Each node lists what its containerd (k8s.io, the kubelet's namespace) already holds; only an image some node lacks
// is asked of the registry, from the worker, through the inventory's endpoint for that registry when it names one
// and with the worker's own registry credentials (never from input); a registry the inventory marks skipVerify is asked
// without checking its TLS certificate, as containerd reaches it. Read-only everywhere.
import { credentialsFromEnv } from '../images/fill.js';
import { manifestPresent, parseFullRef } from '../images/registry-pull.js';
import type { HostContext } from '../plan/types.js';
import type { ActivityDeps } from './deps.js';
import { withFailures } from './failures.js';

export interface ReadUpgradeImagesInput {
  /** Every node, with the references it needs at the target. */
  hosts: { host: HostContext; refs: string[] }[];
  /** The inventory's containerRuntime.registries: where containerd (and so this check) reaches a registry, and
   * whether it checks the registry's TLS certificate (skipVerify: containerd's skip_verify; absent: checked). */
  registries: { host: string; endpoints: string[]; skipVerify?: boolean }[];
}

export interface UpgradeImageFact {
  ref: string;
  /** Nodes that need it and whose containerd lacks it. */
  missingOn: string[];
  /** Asked only when some node lacks the image: the registry has it (true) or answered 404 (false). */
  inRegistry?: boolean;
  /** The registry could not be asked (unreachable, refused): why. */
  registryError?: string;
  /** Where it was asked, e.g. http://10.200.3.1:5000. */
  registryUrl?: string;
}

export interface UpgradeImageFacts {
  images: UpgradeImageFact[];
  /** Set when the images could not be listed for the target (no image table for its minor): why. */
  unchecked?: string;
}

/** `ctr images ls -q` output → the references (digest-only entries left out). */
export function parseImageList(out: string): Set<string> {
  return new Set(
    out
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('sha256:')),
  );
}

/** How containerd reaches a reference's registry: the inventory's first endpoint for it, else https://<host>; and
 * whether it skips the registry's certificate check (the inventory's skipVerify), which this check then does too. */
export function registryAccessOf(
  ref: string,
  registries: ReadUpgradeImagesInput['registries'],
): { url: string; skipVerify: boolean } {
  const { registry } = parseFullRef(ref);
  const entry = registries.find((r) => r.host === registry);
  return {
    url: (entry?.endpoints[0] ?? `https://${registry}`).replace(/\/+$/, ''),
    skipVerify: entry?.skipVerify === true,
  };
}

export function createUpgradeImageActivities(deps: ActivityDeps) {
  return {
    /** Per target image: which nodes lack it and, if any does, whether the registry has it. */
    async readUpgradeImages({ hosts, registries }: ReadUpgradeImagesInput): Promise<UpgradeImageFacts> {
      return withFailures(async () => {
        const held = await Promise.all(
          hosts.map(async ({ host }) => {
            const r = await deps
              .session(host)
              .run(['ctr', '-n', 'k8s.io', 'images', 'ls', '-q'], { action: 'list images', timeoutMs: 60_000 });
            return parseImageList(r.stdout);
          }),
        );
        const refs = [...new Set(hosts.flatMap((h) => h.refs))];
        const credentials = credentialsFromEnv();
        const images = await Promise.all(
          refs.map(async (ref): Promise<UpgradeImageFact> => {
            const missingOn = hosts
              .filter((h, i) => h.refs.includes(ref) && !held[i]!.has(ref))
              .map((h) => h.host.target.name);
            if (missingOn.length === 0) return { ref, missingOn };
            const { url: registryUrl, skipVerify } = registryAccessOf(ref, registries);
            try {
              const inRegistry = await manifestPresent(ref, {
                endpoint: registryUrl,
                timeoutMs: 30_000,
                ...(credentials && { credentials }),
                ...(skipVerify && { skipVerify }),
              });
              return { ref, missingOn, inRegistry, registryUrl };
            } catch (err) {
              return { ref, missingOn, registryError: err instanceof Error ? err.message : String(err), registryUrl };
            }
          }),
        );
        return { images };
      });
    },
  };
}
