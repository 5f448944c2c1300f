// The one shell-quoting helper. Every argument that reaches a remote shell goes through `quote`, so there is a single
// place to get right. POSIX single quotes are used because inside them *nothing* is special to sh (no $, `, \, or
// globbing); the only character that needs care is the single quote itself, written as '\'' (close, escaped quote,
// reopen). This works the same in dash, bash, busybox sh and zsh, which double-quote escaping does not.
import { InvalidInputError } from '../errors.js';

// Words made only of these characters mean the same quoted or not, so we leave them bare to keep logged command
// lines readable. `=` is deliberately absent: a bare `A=b` in command position is an assignment, not a word; `~` is
// absent because of tilde expansion; `{`/`}` because of brace expansion in bash.
const bare = /^[A-Za-z0-9_@%+:,./-]+$/;

/** Quote one argument for a POSIX shell. Throws InvalidInputError on NUL, which no shell argument can carry. */
export function quote(arg: string): string {
  assertNoNul(arg);
  if (bare.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** Join argv into one shell command line, every element quoted. */
export function shellCommand(argv: readonly string[]): string {
  if (argv.length === 0) throw new InvalidInputError('empty command: argv needs at least the program name');
  return argv.map(quote).join(' ');
}

function assertNoNul(arg: string): void {
  const at = arg.indexOf('\0');
  if (at !== -1) {
    // Show where, not the whole value: the string may be a secret.
    throw new InvalidInputError(
      `shell argument contains a NUL byte at offset ${at}; C strings (argv, file names) cannot hold NUL, so it cannot be passed to a remote command`,
    );
  }
}
