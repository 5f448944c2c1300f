// Hosts of a seed inventory → our `hosts` list: names, addresses, roles with the lines that gave them, and the
// Ansible connection variables as SSH settings (global when every host takes them from one line, else per host).
import { connectionVars, topics, truthy } from './ansible-seed-vars.js';
import { at, sameSite, setIn, show, where, type SeedInput } from './ansible-common.js';
import { resolveTemplate } from './ansible-template.js';
import type { VarEntry } from './ansible-varfiles.js';
import type { InventoryIssue, InventoryWarning } from './errors.js';
import type { Site, SourceMap } from './locate.js';

type SshField = 'port' | 'user' | 'identityFile' | 'bastion';

export function mapHosts(
  input: SeedInput,
  raw: Record<string, unknown>,
  map: SourceMap,
  issues: InventoryIssue[],
  warnings: InventoryWarning[],
): void {
  const hosts: Record<string, unknown>[] = [];
  const perField = new Map<SshField, { index: number; value: unknown; entry: VarEntry }[]>();
  const become: { entry: VarEntry; on: boolean }[] = [];
  const warnedArgs = new Set<string>();
  const issue = (e: VarEntry, message: string): void =>
    void issues.push({ ...at(e), field: e.site.alias ?? e.name, message });

  input.hosts.forEach((h, index) => {
    let name = h.name;
    let address: unknown = h.name;
    const hostPath = ['hosts', index];
    map.set(hostPath, h.site);
    if (/[A-Z]/.test(name)) {
      warnings.push({
        ...h.site.value,
        field: h.name,
        text: `node name taken as "${name.toLowerCase()}" (kubelet lower-cases host names)`,
      });
      name = name.toLowerCase();
    }
    if (name.includes('.') && !/^\d+(\.\d+){3}$/.test(name)) {
      const short = name.split('.')[0] ?? name;
      warnings.push({
        ...h.site.value,
        field: h.name,
        text: `node name taken as "${short}", the first label of ${name}; it must be the name the host reports`,
      });
      name = short;
    }
    map.set([...hostPath, 'name'], { ...h.site, alias: h.name });
    map.set([...hostPath, 'address'], { ...h.site, alias: h.name });
    map.set([...hostPath, 'roles'], { ...h.site, alias: h.name });
    h.roles.forEach((r, k) => map.set([...hostPath, 'roles', k], r.site));

    const byKind = new Map<string, VarEntry[]>();
    for (const [vname, e] of h.vars) {
      const kind = connectionVars[vname];
      if (kind) byKind.set(kind, [...(byKind.get(kind) ?? []), e]);
    }
    const one = (kind: string): VarEntry | undefined => {
      const list = byKind.get(kind) ?? [];
      const [first, second] = list;
      if (first && second && JSON.stringify(first.value) !== JSON.stringify(second.value))
        issue(
          second,
          `${second.name} ${show(second.value)} contradicts ${first.name} ${show(first.value)} (${where(at(first), at(second).file)}); set one of them`,
        );
      return first;
    };
    const resolved = (e: VarEntry): unknown => {
      const r = resolveTemplate(e.value, {
        lookup: (n) => (n === 'inventory_hostname' ? h.name : h.vars.get(n)?.value),
        hostsOf: input.hostsOf,
      });
      if ('error' in r) {
        issue(e, r.error);
        return e.value;
      }
      return r.value;
    };
    const addr = one('address');
    if (addr) {
      address = resolved(addr);
      map.set([...hostPath, 'address'], { ...addr.site, alias: `${h.name} ${addr.name}` });
    }
    hosts.push({ name, address, roles: h.roles.map((r) => r.role) });
    for (const [kind, field] of [
      ['port', 'port'],
      ['user', 'user'],
      ['identityFile', 'identityFile'],
    ] as const) {
      const e = one(kind);
      if (e) perField.set(field, [...(perField.get(field) ?? []), { index, value: resolved(e), entry: e }]);
    }
    for (const e of byKind.get('sshArgs') ?? []) {
      const { bastion, rest } = parseSshArgs(String(resolved(e)));
      if (bastion) perField.set('bastion', [...(perField.get('bastion') ?? []), { index, value: bastion, entry: e }]);
      const key = `${at(e).file}:${at(e).line}:${at(e).column}`;
      if (rest.length && !warnedArgs.has(key)) {
        warnedArgs.add(key);
        warnings.push({ ...at(e), field: e.name, text: `${rest.join(' ')} ignored: ${topics.sshArgs}` });
      }
    }
    const b = one('become');
    if (b) become.push({ entry: b, on: truthy(resolved(b)) });
    const bu = one('becomeUser');
    if (bu && String(resolved(bu)) !== 'root')
      issue(bu, `kubeadm2ha becomes root to set up a host, not ${show(bu.value)}`);
    const bm = one('becomeMethod');
    if (bm && String(resolved(bm)) !== 'sudo')
      issue(bm, `only sudo is supported (passwordless, as sudo -n), not ${show(bm.value)}`);
    const c = one('connection');
    if (c && !['ssh', 'smart', 'paramiko'].includes(String(resolved(c))))
      issue(c, `kubeadm2ha reaches hosts over SSH only, not ${show(c.value)}`);
  });
  raw.hosts = hosts;

  // A setting every host takes from the same line becomes a global ssh setting; otherwise it stays per host.
  for (const [field, list] of perField) {
    const [first] = list;
    const shared = first && list.length === input.hosts.length && list.every((x) => sameSite(x.entry, first.entry));
    const global = (raw.ssh as Record<string, unknown> | undefined)?.[field];
    if (shared && global !== undefined) continue; // kubeadm2ha.ssh in group_vars said it explicitly
    if (shared) {
      setIn(raw, ['ssh', field], first.value);
      map.set(['ssh', field], { ...first.entry.site, alias: first.entry.name });
      continue;
    }
    for (const { index, value, entry } of list) {
      setIn(raw, ['hosts', index, 'ssh', field], value);
      map.set(['hosts', index, 'ssh', field], { ...entry.site, alias: entry.site.alias ?? entry.name });
    }
  }
  const on = become.filter((x) => x.on);
  if (on.length > 0 && (raw.ssh as Record<string, unknown> | undefined)?.sudo === undefined) {
    const off = input.hosts.length - on.length;
    if (off > 0)
      issues.push({
        ...at(on[0]!.entry),
        field: on[0]!.entry.name,
        message: `ansible_become is on for ${on.length} host(s) but not for ${off}; kubeadm2ha's sudo setting is the same for every host`,
      });
    else {
      setIn(raw, ['ssh', 'sudo'], true);
      map.set(['ssh', 'sudo'], { ...on[0]!.entry.site, alias: on[0]!.entry.name });
    }
  }
}

/**
 * The seed keeps an [etcd] group even with ETCD_HOSTING: stacked (its playbooks just skip it). Under stacked etcd
 * kubeadm runs etcd on the masters, so that group means nothing for masters: drop it there, with a note. An etcd
 * host that is not a master keeps the role, and the rules report it, since it would never get etcd.
 */
export function dropStackedEtcdRoles(input: SeedInput, modeSite: Site | undefined, warnings: InventoryWarning[]): void {
  const dropped: string[] = [];
  for (const h of input.hosts) {
    const master = h.roles.some((r) => r.role === 'primary-master' || r.role === 'secondary-master');
    if (!master || !h.roles.some((r) => r.role === 'etcd')) continue;
    h.roles = h.roles.filter((r) => r.role !== 'etcd');
    dropped.push(h.name);
  }
  if (dropped.length)
    warnings.push({
      ...(modeSite?.value ?? { file: input.file, line: 1, column: 1 }),
      field: modeSite?.alias ?? 'ETCD_HOSTING',
      text: `stacked etcd runs on the masters: the [etcd] group is not used for ${dropped.join(', ')}`,
    });
}

/** Take ProxyJump from `-J host` / `-o ProxyJump=host`; return every other argument to be reported. */
export function parseSshArgs(args: string): { bastion?: string; rest: string[] } {
  const words = args.split(/\s+/).filter(Boolean);
  const rest: string[] = [];
  let bastion: string | undefined;
  for (let i = 0; i < words.length; i++) {
    const w = words[i] ?? '';
    const opt = w === '-o' ? (words[++i] ?? '') : w.startsWith('-o') ? w.slice(2) : undefined;
    if (w === '-J') bastion = words[++i];
    else if (opt !== undefined && /^ProxyJump[= ]/i.test(opt)) bastion = opt.replace(/^ProxyJump[= ]+/i, '');
    else if (opt !== undefined && /^ProxyJump$/i.test(opt)) bastion = words[++i];
    else rest.push(opt !== undefined ? `-o ${opt}` : w);
  }
  return bastion ? { bastion, rest } : { rest };
}
