// What changed between the input of a running workflow and the input a rerun would start it with, as paths a user
// can find in the inventory. Values are shown only where they cannot be secret: this text goes to the terminal.

export interface InputChange {
  /** `inventory.hosts[1].address`; the root is the workflow input. */
  path: string;
  /** Rendered values, absent when the field may hold a secret or the side has no value. */
  before?: string;
  after?: string;
  secret: boolean;
}

/**
 * Field names whose values (and everything below them) are never printed: private keys, tokens, passwords, join
 * commands. Narrow on purpose: `hostKeyPolicy` or `keyType` are settings a user needs to see changed.
 */
const SECRET_NAME =
  /^(key|privateKey|.*(Token|Secret|Password|Passphrase|Credentials?|PrivateKey|CertificateKey|JoinCommand))$|^(token|secret|password|passphrase|credentials?|joinCommand)/i;

const MAX_VALUE_CHARS = 80;

function render(v: unknown): string {
  const s = JSON.stringify(v) ?? 'undefined';
  return s.length > MAX_VALUE_CHARS ? `${s.slice(0, MAX_VALUE_CHARS - 1)}…` : s;
}

function child(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? (path ? `${path}.${key}` : key) : `${path}[${JSON.stringify(key)}]`;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every leaf that differs, in document order; `undefined` and a missing key are the same (JSON drops both). */
export function inputChanges(before: unknown, after: unknown): InputChange[] {
  const out: InputChange[] = [];
  const walk = (a: unknown, b: unknown, path: string, secret: boolean): void => {
    if (Array.isArray(a) && Array.isArray(b)) {
      for (let i = 0; i < Math.max(a.length, b.length); i++) walk(a[i], b[i], child(path, i), secret);
      return;
    }
    if (isObject(a) && isObject(b)) {
      const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
      for (const k of keys) walk(a[k], b[k], child(path, k), secret || SECRET_NAME.test(k));
      return;
    }
    if (JSON.stringify(a) === JSON.stringify(b)) return;
    out.push({
      path: path || '(input)',
      secret,
      ...(!secret && a !== undefined && { before: render(a) }),
      ...(!secret && b !== undefined && { after: render(b) }),
    });
  };
  walk(JSON.parse(JSON.stringify(before ?? null)), JSON.parse(JSON.stringify(after ?? null)), '', false);
  return out;
}

export function formatChange(c: InputChange): string {
  if (c.secret) return `${c.path}: changed (value not shown)`;
  return `${c.path}: ${c.before ?? '(not set)'} → ${c.after ?? '(not set)'}`;
}
