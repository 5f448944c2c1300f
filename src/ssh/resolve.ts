// Where each connection setting comes from. Precedence, highest first: the inventory host's `ssh` block (carried
// by SshTarget), the inventory's `ssh` settings, ~/.ssh/config, built-in defaults.
//
// Caveat: the schema fills `user: root` and `port: 22` by default, so a parsed SshSettings cannot tell "root, on
// purpose" from "not set". We treat those default values as "not set" so that ssh config's User/Port can apply.
import type { SshSettings } from '../inventory/schema.js';
import { InvalidInputError } from '../errors.js';
import { requireHostName } from './host-names.js';
import { expandPath, parseJumpSpec, resolveSshConfig, type SshConfigBlock } from './ssh-config.js';

/** One host to connect to, as the inventory describes it. */
export interface SshTarget {
  /** Inventory name; prefixes every error message and is matched against ssh config Host patterns. */
  name: string;
  /** Address to connect to (inventory wins over ssh config HostName). */
  address: string;
  port?: number;
  user?: string;
  identityFile?: string;
  /** `[user@]host[:port]`, one hop; `none` disables a ProxyJump from ssh config. */
  bastion?: string;
}

export interface ResolvedEndpoint {
  label: string;
  host: string;
  port: number;
  user: string;
  aliases: string[];
  identityFiles: string[];
  /** Whether identityFiles were named by the inventory (then they must work) rather than found in ssh config. */
  explicitIdentity: boolean;
}

export interface Resolved {
  target: ResolvedEndpoint;
  jump?: ResolvedEndpoint;
}

const DEFAULT_USER = 'root';
const DEFAULT_PORT = 22;

export function resolveTarget(
  target: SshTarget,
  settings: SshSettings,
  config: readonly SshConfigBlock[],
  home?: string,
): Resolved {
  const cfg = resolveSshConfig(config, target.name);
  const settingsUser = settings.user === DEFAULT_USER ? undefined : settings.user;
  const settingsPort = settings.port === DEFAULT_PORT ? undefined : settings.port;
  const user = target.user ?? settingsUser ?? cfg.user ?? DEFAULT_USER;
  const port = target.port ?? settingsPort ?? cfg.port ?? DEFAULT_PORT;
  const host = requireHostName(target.name, 'address', target.address);
  const explicit = target.identityFile ?? settings.identityFile;
  const tokens = { host, user, port, alias: target.name };
  const identityFiles = (explicit ? [explicit] : cfg.identityFiles).map((f) => expandPath(f, tokens, home));
  const resolved: Resolved = {
    target: {
      label: target.name,
      host,
      port,
      user,
      aliases: target.name !== host ? [target.name] : [],
      identityFiles,
      explicitIdentity: explicit !== undefined,
    },
  };
  const jumpSpec = target.bastion ?? settings.bastion ?? cfg.proxyJump;
  if (jumpSpec && jumpSpec !== 'none') resolved.jump = resolveJump(jumpSpec, target.name, settings, config, home);
  return resolved;
}

function resolveJump(
  spec: string,
  forHost: string,
  settings: SshSettings,
  config: readonly SshConfigBlock[],
  home?: string,
): ResolvedEndpoint {
  const parsed = spec.includes(',') ? undefined : parseJumpSpec(spec);
  if (!parsed)
    throw new InvalidInputError(
      `${forHost}: bastion/ProxyJump ${JSON.stringify(spec)}: expected one hop as [user@]host[:port]`,
    );
  // The jump host is looked up in ssh config by the name given, like OpenSSH does (its own ProxyJump is ignored).
  const cfg = resolveSshConfig(config, parsed.host);
  const host = requireHostName(
    forHost,
    cfg.hostName ? `bastion HostName (ssh config)` : 'bastion',
    cfg.hostName ?? parsed.host,
  );
  const user = parsed.user ?? cfg.user ?? settings.user;
  const port = parsed.port ?? cfg.port ?? DEFAULT_PORT;
  const explicit = settings.identityFile;
  const tokens = { host, user, port, alias: parsed.host };
  const identityFiles = (cfg.identityFiles.length ? cfg.identityFiles : explicit ? [explicit] : []).map((f) =>
    expandPath(f, tokens, home),
  );
  return {
    label: `${forHost} (via bastion ${parsed.host})`,
    host,
    port,
    user,
    aliases: parsed.host !== host ? [parsed.host] : [],
    identityFiles,
    explicitIdentity: cfg.identityFiles.length === 0 && explicit !== undefined,
  };
}
