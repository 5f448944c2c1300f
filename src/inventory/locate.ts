// Where each value of the plain inventory object came from. Both loaders fill a SourceMap while they build the
// object (YAML from node ranges, Ansible from INI tokens and group_vars nodes), so any problem found later — by
// zod or by the cross-field rules — can be pinned to the file, line and column the user has to edit.
export type Path = readonly (string | number)[];

export interface Position {
  file: string;
  line: number;
  column: number;
}

export interface Site {
  /** Where the value starts. For a map it is the map's first key. */
  value: Position;
  /** Where the key naming this value is, when there is one. */
  key?: Position;
  /** The name a user knows this field by when it differs from the schema path (an Ansible variable). */
  alias?: string;
  /** Said instead of "missing required key" when this field has no value (what to set, and where). */
  missing?: string;
}

export interface Located extends Position {
  field: string;
}

/** `hosts[2].ssh.port` */
export function formatPath(path: Path): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

const keyOf = (path: Path): string => JSON.stringify(path);

export class SourceMap {
  private readonly sites = new Map<string, Site>();

  /** @param root where problems about the whole document go (line 1, column 1 of the main file). */
  constructor(readonly root: Position) {}

  set(path: Path, site: Site): void {
    this.sites.set(keyOf(path), site);
  }

  get(path: Path): Site | undefined {
    return this.sites.get(keyOf(path));
  }

  /**
   * Copy every site strictly under `from` in another map to the same relative paths under `to` here, naming
   * each field `aliasPrefix.rest` when given (so `kubeadm2ha.cluster.vip.interface` is reported as written).
   */
  graft(other: SourceMap, from: Path, to: Path, aliasPrefix?: string): void {
    const prefix = keyOf(from).slice(0, -1);
    for (const [k, site] of other.sites) {
      if (from.length > 0 ? !k.startsWith(prefix + ',') : k === '[]') continue;
      const rel = (JSON.parse(k) as (string | number)[]).slice(from.length);
      this.set([...to, ...rel], aliasPrefix ? { ...site, alias: formatPath([aliasPrefix, ...rel]) } : site);
    }
  }

  /** The nearest recorded site at or above `path`, and the path it belongs to. */
  nearest(path: Path): { site: Site | undefined; at: Path } {
    for (let n = path.length; n >= 0; n--) {
      const at = path.slice(0, n);
      const site = this.get(at);
      if (site) return { site, at };
    }
    return { site: undefined, at: [] };
  }

  private fieldFor(path: Path, site: Site | undefined, exact: boolean): string {
    return exact && site?.alias ? site.alias : formatPath(path);
  }

  /** Position of the value at `path` (or of its nearest recorded ancestor). */
  value(path: Path): Located {
    const { site, at } = this.nearest(path);
    const exact = at.length === path.length;
    // A value that is not written (a schema default) is about its parent: point at the parent's key if any.
    const pos = exact ? site?.value : (site?.key ?? site?.value);
    return { ...(pos ?? this.root), field: this.fieldFor(path, site, exact) };
  }

  /** Position of the key naming `path` — for unknown keys, which are wrong as names, not as values. */
  key(path: Path): Located {
    const { site, at } = this.nearest(path);
    const exact = at.length === path.length;
    return {
      ...((exact ? site?.key : undefined) ?? site?.value ?? this.root),
      field: this.fieldFor(path, site, exact),
    };
  }

  /**
   * Position for a key that has no value: a site recorded for it anyway (the Ansible loader records where such a
   * variable would be set), else the parent map — at the parent's own key when it has one, so `cluster: {…}`
   * missing `vip` points at `cluster:`.
   */
  missing(path: Path): Located & { hint?: string } {
    const own = this.get(path);
    if (own)
      return {
        ...(own.key ?? own.value),
        field: own.alias ?? formatPath(path),
        ...(own.missing && { hint: own.missing }),
      };
    const { site } = this.nearest(path.slice(0, -1));
    return { ...(site?.key ?? site?.value ?? this.root), field: formatPath(path) };
  }
}
