// The small part of Jinja2 the seed's group_vars actually use: `{{ OTHER_VAR }}` and `{{ groups['g'][0] }}`
// (e.g. `APISERVER_VIP: "{{ groups['apiserver_vip'][0] }}"`, and KUBERNETES_VERSION built from its parts).
// Anything else is refused with the expression named, rather than guessed at.
export interface TemplateScope {
  lookup: (name: string) => unknown;
  hostsOf: (group: string) => string[];
}

export type TemplateResult = { value: unknown; used: string[] } | { error: string };

const MAX_DEPTH = 10;

function evalExpr(expr: string, scope: TemplateScope, depth: number, used: string[]): TemplateResult {
  const e = expr.trim();
  if (/^[A-Za-z_]\w*$/.test(e)) {
    const v = scope.lookup(e);
    if (v === undefined) return { error: `{{ ${e} }} refers to ${e}, which is not set` };
    used.push(e);
    return resolveTemplate(v, scope, depth + 1, used);
  }
  const g = /^groups(?:\[\s*(['"])([^'"]+)\1\s*\]|\.([A-Za-z_][\w-]*))\s*\[\s*(\d+)\s*\]$/.exec(e);
  if (g) {
    const group = g[2] ?? g[3] ?? '';
    const host = scope.hostsOf(group)[Number(g[4])];
    return host === undefined ? { error: `{{ ${e} }}: group ${group} has no host #${g[4]}` } : { value: host, used };
  }
  return { error: `the Jinja2 expression {{ ${e} }} is beyond what kubeadm2ha evaluates; write the value itself` };
}

export function resolveTemplate(value: unknown, scope: TemplateScope, depth = 0, used: string[] = []): TemplateResult {
  if (typeof value !== 'string' || (!value.includes('{{') && !value.includes('{%'))) return { value, used };
  if (depth > MAX_DEPTH) return { error: 'variables refer to each other in a loop' };
  if (value.includes('{%'))
    return { error: 'Jinja2 statements ({% … %}) are beyond what kubeadm2ha evaluates; write the value itself' };
  const parts = value.split(/(\{\{.*?\}\})/);
  // A value that is exactly one expression keeps the expression's type (Ansible does the same for `"{{ x }}"`).
  const whole = parts.length === 3 && parts[0] === '' && parts[2] === '';
  let out = '';
  for (const part of parts) {
    const m = /^\{\{(.*)\}\}$/.exec(part);
    if (!m) {
      out += part;
      continue;
    }
    const r = evalExpr(m[1] ?? '', scope, depth, used);
    if ('error' in r) return r;
    if (whole) return r;
    out += String(r.value);
  }
  return { value: out, used };
}
