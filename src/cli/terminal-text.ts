// Text from hosts (os-release fields, stderr, file contents quoted in a message) reaches the operator's terminal
// through progress lines, reports and failures. A hostile or broken host could send escape sequences: clear the
// screen, rewrite earlier lines, set the window title, or (on some terminals) answer back into the input. Every
// control character except newline and tab is shown escaped instead. --json output stays data (JSON escapes it).

// C0 controls but \t and \n, DEL, and the C1 range (0x80-0x9f; U+009B alone is a CSI on many terminals).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** `text` safe to print on a terminal: control characters become visible `\xHH` escapes. */
export function forTerminal(text: string): string {
  return text.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
