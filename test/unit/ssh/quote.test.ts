import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../../src/errors.js';
import { quote, shellCommand } from '../../../src/ssh/quote.js';

const hostile = [
  "it's",
  "''",
  '',
  ' ',
  '$(touch /tmp/pwned)',
  '`touch /tmp/pwned`',
  '${HOME}',
  'a\nb\n',
  'x; rm -rf /',
  'a && b',
  'a | b',
  '* ? [a-z]',
  '~',
  '~root',
  '{a,b}',
  'A=b',
  '-n',
  '--help',
  '\\',
  '"double" \\"escaped\\"',
  'tab\there',
  '日本語 ✓ émoji 🚀',
  "'; touch /tmp/pwned; echo '",
  '!',
  '#comment',
  '\r\u0001\u007f',
];

describe('quote', () => {
  it('wraps in single quotes and escapes embedded single quotes', () => {
    expect(quote("it's")).toBe(`'it'\\''s'`);
    expect(quote('a b')).toBe(`'a b'`);
    expect(quote('')).toBe(`''`);
  });

  it('leaves plain words bare so logged commands stay readable', () => {
    expect(quote('/etc/kubernetes/admin.conf')).toBe('/etc/kubernetes/admin.conf');
    expect(quote('--node-name=m1')).toBe(`'--node-name=m1'`);
    expect(quote('-n')).toBe('-n');
  });

  it('rejects NUL with a clear error', () => {
    expect(() => quote('a\0b')).toThrow(InvalidInputError);
    expect(() => quote('a\0b')).toThrow(/NUL byte at offset 1/);
  });

  it('round-trips hostile strings through a real sh', () => {
    for (const s of hostile) {
      const r = spawnSync('sh', ['-c', `printf '%s' ${quote(s)}`], { encoding: 'utf8' });
      expect(r.stdout).toBe(s);
    }
  });

  it('shellCommand quotes every argument', () => {
    expect(shellCommand(['printf', '%s\\n', 'a b', "c'd"])).toBe(`printf '%s\\n' 'a b' 'c'\\''d'`);
    expect(() => shellCommand([])).toThrow(InvalidInputError);
  });
});
