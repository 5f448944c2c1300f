// The one schema. Every config type in kubeadm2ha is inferred from here; the YAML loader and the Ansible INI
// loader both produce a plain object that goes through `Inventory.safeParse`, so both formats get the same checks
// and the same error text. Cross-field rules (one primary master, odd etcd count, VIP inside the node subnet…)
// live in rules.ts, because zod's object-level refinements would stop at the first structural error.
import { z } from 'zod';

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const hostname = /^(?=.{1,253}$)[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*$/;

/** Kubernetes release we support: 1.28 and newer (older ones are out of support upstream). Accepts a leading `v`. */
export const KubernetesVersion = z
  .string()
  .regex(/^v?1\.\d+\.\d+$/, 'expected a Kubernetes version like 1.32.4')
  .transform((v) => v.replace(/^v/, ''))
  .refine(
    (v) => Number(v.split('.')[1]) >= 28,
    'Kubernetes older than 1.28 is not supported (kubeadm2ha targets 1.28+)',
  );

/** etcd-server in Debian 12 (bookworm); see cluster.etcd.version. */
export const DEFAULT_ETCD_VERSION = '3.4.23';

export const Port = z.number().int().min(1).max(65535);

/**
 * ssh.maxConcurrency: how many hosts one run works on at once in a host-parallel phase (preflight's and the
 * certificate check's hosts, a parallel rollout's host chains, images push delivery and import), counted across the
 * run's child workflows and whichever workers serve it; the hosts after that start as earlier ones finish. Serial and
 * batched rollouts (masters, upgrade batches) keep their own smaller limits. It is not a connection limit: a worker
 * keeps one SSH connection per host it has reached and opens at most 8 at once (src/ssh/pool.ts). The default, 50,
 * leaves half of one worker's 100 activity slots (the SDK's default) to another run. At most 500: the largest run
 * kubeadm2ha is built and tested for (issue 15), so every supported inventory can still run all its hosts at once,
 * and a larger number would mean nothing more than "all".
 */
export const MAX_SSH_CONCURRENCY = 500;

export const Address = z.union([z.ipv4(), z.string().regex(hostname, 'expected an IPv4 address or a DNS name')]);

/** logs-hot / logs-warm: where the logging addon's store runs (the seed's elasticsearch_hot / elasticsearch_warm
 * groups); such a host must also be a Kubernetes node (a master or worker). */
export const Role = z.enum(['primary-master', 'secondary-master', 'etcd', 'worker', 'logs-hot', 'logs-warm']);
export type Role = z.infer<typeof Role>;

/** SSH settings shared by all hosts; a host may override the connection fields. */
export const SshSettings = z
  .object({
    user: z.string().min(1).default('root'),
    port: Port.default(22),
    /** Private key file. Never the key itself: keys must not travel through Temporal history. */
    identityFile: z.string().min(1).optional(),
    /** Use $SSH_AUTH_SOCK when set. */
    useAgent: z.boolean().default(true),
    /** Defaults to ~/.ssh/known_hosts. */
    knownHostsFile: z.string().min(1).optional(),
    /** `strict` refuses unknown keys; `accept-new` records unknown keys. A changed key is always refused. */
    hostKeyPolicy: z.enum(['strict', 'accept-new']).default('strict'),
    /** OpenSSH client config to read HostName/User/Port/IdentityFile/ProxyJump from (default ~/.ssh/config if present). */
    configFile: z.string().min(1).optional(),
    /** Jump host, as `[user@]host[:port]`. */
    bastion: z.string().min(1).optional(),
    /** Run privileged commands through `sudo -n` (for a non-root user with passwordless sudo). */
    sudo: z.boolean().default(false),
    connectTimeoutSeconds: z.number().positive().default(10),
    commandTimeoutSeconds: z.number().positive().default(600),
    /** Hosts one run works on at once: see MAX_SSH_CONCURRENCY. */
    maxConcurrency: z.number().int().min(1).max(MAX_SSH_CONCURRENCY).default(50),
  })
  .strict();
export type SshSettings = z.infer<typeof SshSettings>;

export const HostSsh = z
  .object({ user: z.string().min(1), port: Port, identityFile: z.string().min(1), bastion: z.string().min(1) })
  .partial()
  .strict();

export const Host = z
  .object({
    /** Node name as Kubernetes will know it; also the hostname the host must report. */
    name: z.string().regex(dnsLabel, 'expected a lower-case DNS label (a-z, 0-9, -)').max(63),
    address: Address,
    roles: z.array(Role).min(1, 'a host needs at least one role'),
    ssh: HostSsh.optional(),
    /** Free-form labels applied to the Kubernetes node. */
    labels: z.record(z.string(), z.string()).optional(),
  })
  .strict();
export type Host = z.infer<typeof Host>;

export const Vip = z
  .object({
    address: z.ipv4(),
    /** Prefix length of the subnet the VIP lives in (the masters' subnet). */
    prefixLength: z.number().int().min(8).max(32).default(24),
    interface: z.string().min(1).default('eth0'),
    virtualRouterId: z.number().int().min(1).max(255).default(51),
  })
  .strict();

export const LoadBalancer = z
  .object({
    kind: z.enum(['haproxy', 'nginx', 'none']).default('haproxy'),
    /** Port the VIP answers on for the apiserver; 6443 stays the apiserver's own port on each master. */
    port: Port.default(8443),
  })
  .strict();

/** The pod network: flannel (the seed's NETWORK_PLUGIN default), a manifest file the user names, or none (the user
 * brings their own CNI after setup; nodes stay NotReady until then). */
export const Network = z
  .object({
    plugin: z.enum(['flannel', 'manifest', 'none']).default('flannel'),
    /** Path (on the operator's machine) of a manifest to `kubectl apply`, for plugin: manifest. */
    manifest: z.string().min(1).optional(),
  })
  .strict();

/** A registry containerd pulls some images from through other endpoints (a mirror, or plain HTTP). */
export const RegistryMirror = z
  .object({
    /** Registry as images name it, e.g. docker.io or registry.example.com:5000. */
    host: z.string().regex(/^[a-zA-Z0-9.-]+(:\d{1,5})?$/, 'expected a registry host[:port], without a scheme'),
    /** Endpoints tried in order, e.g. https://mirror.example.com or http://10.0.0.5:5000 (plain HTTP). */
    endpoints: z.array(z.url({ protocol: /^https?$/ })).min(1, 'a registry mirror needs at least one endpoint'),
    /** Accept any TLS certificate from these endpoints (a self-signed registry). */
    skipVerify: z.boolean().default(false),
  })
  .strict();

export const ContainerRuntime = z
  .object({
    kind: z.enum(['containerd']).default('containerd'),
    version: z.string().min(1).optional(),
    /** cgroup driver of containerd's runc and of the kubelet: systemd on systemd hosts (kubeadm's default);
     * cgroupfs where nothing manages cgroups (containers, the lab's namespace hosts). */
    cgroupDriver: z.enum(['systemd', 'cgroupfs']).default('systemd'),
    /** Pod sandbox ("pause") image; default: the pause image kubeadm names, from imageRepository. */
    sandboxImage: z.string().min(1).optional(),
    registries: z.array(RegistryMirror).default([]),
    /** containerd's restrict_oom_score_adj: needed where containerd may not lower OOM scores (no CAP_SYS_RESOURCE:
     * rootless, nested containers, the lab). */
    restrictOomScoreAdj: z.boolean().default(false),
  })
  .strict();

/** Where `images push` (and an air-gapped setup or upgrade) takes the images from, on the worker's machine. */
export const ImageSource = z.discriminatedUnion('kind', [
  /** Each image from the registry its reference names; `plainHttp` lists registries spoken to over plain HTTP. */
  z.object({ kind: z.literal('registry'), plainHttp: z.array(z.string().min(1)).optional() }).strict(),
  /** Every image from one OCI layout directory (an absolute path on the worker's machine). */
  z
    .object({
      kind: z.literal('oci-layout'),
      dir: z.string().startsWith('/', "expected an absolute path on the worker's machine"),
    })
    .strict(),
]);

export const ImagesSettings = z
  .object({
    /** The hosts reach no registry: setup (before kubeadm init) and upgrade (before the first master) run
     * `images push` as a child workflow, so every image the version needs is in each host's containerd first. */
    airGapped: z.boolean().default(false),
    /** Where the worker takes the images from (default: each image's own registry). */
    source: ImageSource.optional(),
  })
  .strict();

export const Cluster = z
  .object({
    name: z.string().regex(dnsLabel, 'expected a lower-case DNS label (a-z, 0-9, -)').max(40),
    kubernetesVersion: KubernetesVersion,
    podSubnet: z.cidrv4().default('10.244.0.0/16'),
    serviceSubnet: z.cidrv4().default('10.96.0.0/12'),
    dnsDomain: z.string().regex(hostname).default('cluster.local'),
    /** Where kubeadm pulls control-plane images from; a local registry for air-gapped clusters. */
    imageRepository: z.string().min(1).default('registry.k8s.io'),
    vip: Vip,
    loadBalancer: LoadBalancer.prefault({}),
    etcd: z
      .object({
        /** `external`: our own etcd cluster on the etcd hosts (the seed's layout); `stacked`: kubeadm-managed. */
        mode: z.enum(['external', 'stacked']).default('external'),
        /** Pinned etcd release for external etcd. The default is what Debian 12 ships (etcd-server 3.4.23), the
         * version the lab and CI run; set it to whatever the package mirror serves. */
        version: z
          .string()
          .regex(/^\d+\.\d+\.\d+$/, 'expected an etcd version like 3.5.16')
          .default(DEFAULT_ETCD_VERSION),
      })
      .strict()
      .prefault({}),
    /** Node IPv4 pod range size the controller-manager hands each node out of podSubnet (kubeadm's default: 24).
     * Smaller clusters in a small podSubnet need a longer prefix (the lab gives each node a /28). */
    nodeCidrMaskSize: z.number().int().min(16).max(30).optional(),
    network: Network.prefault({}),
    containerRuntime: ContainerRuntime.prefault({}),
    images: ImagesSettings.prefault({}),
    kubeProxy: z
      .object({
        /** kube-proxy's conntrack.maxPerCore; 0 leaves nf_conntrack_max alone, which hosts in containers or network
         * namespaces need (the value is machine-wide and read-only there). Unset: kube-proxy's default (32768). */
        conntrackMaxPerCore: z.number().int().min(0).optional(),
      })
      .strict()
      .prefault({}),
    packages: z
      .object({
        /** apt/yum repository URL serving kubeadm, kubelet, kubectl (and etcd for external etcd). */
        mirror: z.url().optional(),
        /** Hold kubeadm, kubelet and kubectl at kubernetesVersion (`apt-mark hold`), so an unattended upgrade
         * cannot move a node ahead of its control plane. Upgrades unhold and hold again. */
        hold: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    pki: z
      .object({
        keyType: z.enum(['ecdsa-p256', 'rsa-2048', 'rsa-3072', 'rsa-4096']).default('ecdsa-p256'),
        caValidityDays: z.number().int().positive().default(3650),
        certValidityDays: z.number().int().positive().default(365),
      })
      .strict()
      .prefault({}),
  })
  .strict();
export type Cluster = z.infer<typeof Cluster>;

/** The logging addon's retention per tier (src/templates/addons/logging.ts says how it maps onto the store). */
export const LoggingSettings = z
  .object({
    /** Days a log line stays on the logs-hot hosts: the seed's EFK moved indices to warm after 3 days. */
    hotDays: z.number().int().min(1).max(3650).default(3),
    /** Days a log line stays on the logs-warm hosts; longer than hotDays. */
    warmDays: z.number().int().min(1).max(3650).default(30),
  })
  .strict();

export const AddonSettings = z
  .object({
    logging: LoggingSettings.prefault({}),
  })
  .strict();

export const Inventory = z
  .object({
    cluster: Cluster,
    /** Settings of addons (`kubeadm2ha addons apply`); everything has a default. */
    addons: AddonSettings.prefault({}),
    ssh: SshSettings.prefault({}),
    hosts: z.array(Host).min(1, 'an inventory needs at least one host'),
  })
  .strict();
export type Inventory = z.infer<typeof Inventory>;
export type InventoryInput = z.input<typeof Inventory>;
