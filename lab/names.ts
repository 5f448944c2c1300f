// Names and addresses of one lab, derived from its id alone, so any process (the CLI's `lab down`, the stale
// cleanup of a later run) can find every object a lab made without trusting anything but the id.
//
// Lab <id> owns 10.200.<id>.0/24: the bridge is .1 (root namespace side), the VIP .100, host hN is .(10+N).
// Kernel interface names are at most 15 characters; the longest here is `k2h250v80` / `k2h250-h80`.

/** Every lab address is inside this /16; the root namespace routes all of it to a blackhole outside live /24s. */
export const LAB_SUPERNET = '10.200.0.0/16';
/** Per-lab lock directories (one per id) live here; /run is tmpfs, so a reboot forgets them with the namespaces. */
export const REGISTRY_DIR = '/run/kubeadm2ha-lab';
export const MIN_ID = 1;
export const MAX_ID = 250;
/** .(10+N) must stay below the VIP (.100). */
export const MAX_HOSTS = 80;

export const subnetOf = (id: number): string => `10.200.${id}.0/24`;
export const bridgeAddressOf = (id: number): string => `10.200.${id}.1`;
export const vipOf = (id: number): string => `10.200.${id}.100`;
export const hostAddress = (id: number, index: number): string => `10.200.${id}.${10 + index}`;
export const hostName = (index: number): string => `h${index}`;

export const bridgeName = (id: number): string => `k2hbr${id}`;
export const netnsName = (id: number, index: number): string => `k2h${id}-h${index}`;
export const vethName = (id: number, index: number): string => `k2h${id}v${index}`;
/** Prefixes that match this lab's netns and veths and no other lab's (`k2h1-` never matches `k2h11-h1`). */
export const netnsPrefix = (id: number): string => `k2h${id}-`;
export const vethPrefix = (id: number): string => `k2h${id}v`;
