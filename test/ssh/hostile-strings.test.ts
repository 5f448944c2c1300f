// Hostile strings go through quote()/shellCommand to a real host as plain arguments: they must arrive byte for byte
// and nothing in them may run. Every injection attempt would touch a marker or delete a canary on the host; the
// host is checked directly (lab.exec, not ssh) afterwards.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, type Lab } from '../../lab/index.js';
import { shellCommand, type HostSession, type SshPool } from '../../src/ssh/index.js';
import { labPool, shq, target } from './helpers.js';

const MARKER = '/tmp/pwned';
const CANARY = '/tmp/canary';

const hostile: string[] = [
  "'",
  '"',
  "it's",
  'say "hi"',
  "'\"'\"'",
  `$(touch ${MARKER})`,
  `\`touch ${MARKER}\``,
  `"$(touch ${MARKER})"`,
  `'$(touch ${MARKER})'`,
  `x; touch ${MARKER}`,
  `x && touch ${MARKER}`,
  `x || touch ${MARKER}`,
  `x | touch ${MARKER}`,
  `x & touch ${MARKER}`,
  `x\ntouch ${MARKER}`,
  `x\r\ntouch ${MARKER}`,
  `; rm -f ${CANARY}`,
  `&& rm -f ${CANARY}`,
  `> ${MARKER}`,
  `< /etc/shadow`,
  `$(rm -f ${CANARY})`,
  '${IFS}',
  '$HOME',
  '$0 $1 $@ $* $? $$ $!',
  '~',
  '~root',
  '{a,b}',
  '*',
  '/*',
  '?',
  '[a-z]*',
  '-n',
  '-e',
  '-E',
  '--',
  '--help',
  '-',
  '\\',
  '\\n\\t\\0',
  '\\\\',
  'end\\',
  '%',
  '%s%d%%%n',
  '!',
  '!!',
  '!$',
  '#not a comment',
  '=',
  'A=b',
  ' leading and trailing ',
  '\ttab',
  '\n',
  '',
  'ünïcödé ✓ 日本語 🚀 \u200b\u202e',
  '\x01\x07\x1b[31mred\x1b[0m\x7f',
  'a\'b$`c\\d"e!f*g'.repeat(3000), // ~45 KB, with the characters quoting must expand
  'x'.repeat(100_000),
];

let lab: Lab;
let pool: SshPool;
let h1: HostSession;

beforeAll(async () => {
  lab = await createLab({ hosts: 1, prepared: false });
  pool = await labPool(lab);
  h1 = pool.session(target(lab, 'h1'));
  await lab.exec('h1', `rm -f ${MARKER}; echo alive > ${CANARY}`);
});
afterAll(async () => {
  await pool?.closeAll();
  await lab?.destroy();
});

/** Nothing ran: no marker, canary intact. Checked on the host itself, not through the code under test. */
async function expectNothingExecuted(): Promise<void> {
  const r = await lab.exec('h1', `test ! -e ${MARKER} && cat ${CANARY}`, { allowFail: true });
  expect(r).toMatchObject({ code: 0, stdout: 'alive\n' });
}

describe('hostile strings as arguments', () => {
  it('reach printf %s byte for byte, one command per string', async () => {
    for (const s of hostile) {
      const r = await h1.run(['printf', '%s', s]);
      expect(r.stdout, JSON.stringify(s.slice(0, 60))).toBe(s);
    }
    await expectNothingExecuted();
  });

  it('reach printf as one argv of all of them, in order', async () => {
    const short = hostile.filter((s) => s.length < 1000);
    const r = await h1.run(['printf', '%s\\0', ...short]);
    expect(r.stdout.split('\0').slice(0, -1)).toEqual(short);
    await expectNothingExecuted();
  });

  it('reach echo (argv, no shell) unchanged, except what echo itself takes as options', async () => {
    // /usr/bin/echo treats -n/-e/-E and a lone --help as options: that is echo, not the quoting.
    const plain = hostile.filter((s) => !/^-[neE]+$/.test(s) && s !== '--help' && s.length < 1000);
    for (const s of plain) {
      const r = await h1.run(['echo', s]);
      expect(r.stdout, JSON.stringify(s)).toBe(`${s}\n`);
    }
    await expectNothingExecuted();
  });

  it('reach a script as positional parameters, through env, and two shells deep (as sudo -n -- sh -c does)', async () => {
    for (const s of hostile.filter((x) => x.length < 1000)) {
      // One command per string: $1 as a positional parameter, $V from env, and $2, a command line built by
      // shellCommand and run by a second shell (quoting inside quoting); the three outputs are NUL-separated.
      const script = 'printf "%s\\0" "$1" "$V"; sh -c "$2"';
      const r = await h1.run(['sh', '-c', script, 'sh', s, shellCommand(['printf', '%s', s])], { env: { V: s } });
      expect(r.stdout.split('\0'), JSON.stringify(s)).toEqual([s, s, s]);
    }
    await expectNothingExecuted();
  });

  it('reach the host through stdin unchanged', async () => {
    const all = Buffer.from(hostile.join('\0'));
    const r = await h1.run(['cat'], { stdin: all });
    expect(Buffer.from(r.stdout).equals(all)).toBe(true);
    await expectNothingExecuted();
  });

  it('refuse NUL before anything is sent', async () => {
    await expect(h1.run(['printf', '%s', 'a\0b'])).rejects.toThrow(/NUL byte at offset 1/);
  });
});

describe('hostile file names through putFile/getFile', () => {
  const names = [
    '/tmp/with space/file name.txt',
    "/tmp/it's/\"quoted\" 'both'.conf",
    `/tmp/$(touch ${MARKER})/\`touch ${MARKER}\``,
    `/tmp/semi; rm -f ${CANARY}/x && y`,
    '/tmp/-leading-dash/--force',
    '/tmp/glob/*',
    '/tmp/new\nline/and\ttab',
    '/tmp/ünï ✓/日本語.txt',
    '/tmp/back\\slash/%s!',
  ];

  it('write, skip, and read each one back, with the file exactly where asked', async () => {
    for (const [i, path] of names.entries()) {
      const content = `content ${i}: ${path}\n`;
      expect(await h1.putFile(path, content, { mode: 0o640 }), path).toEqual({ changed: true });
      expect(await h1.putFile(path, content, { mode: 0o640 }), path).toEqual({ changed: false });
      expect((await h1.getFile(path)).toString(), path).toBe(content);
      // Checked on the host with a quoting of our own: the file has this exact name and mode.
      const onHost = await lab.exec('h1', `stat -c %a -- ${shq(path)} && cat -- ${shq(path)}`);
      expect(onHost.stdout).toBe(`640\n${content}`);
    }
    // The glob name is a literal `*`, not every file in /tmp/glob.
    expect((await lab.exec('h1', 'ls -A /tmp/glob')).stdout).toBe('*\n');
    await expectNothingExecuted();
  });
});
