// Services on hosts without systemd (the lab's namespace hosts, minimal containers): "k2h-supervise".
// The definition is /etc/kubeadm2ha/services/<name>.env (command, binary, log file, environment; 0600); a service
// runs detached (`setsid nohup`) with its pid in /run/<name>.pid; it is active while that pid lives and runs the
// service's binary (a recycled pid running something else does not count). There is no restart-on-crash loop:
// the workflow notices a dead member (health gate) and starts it again, which is what a crash test exercises.
import { quote, shellCommand, type HostSession } from '../../ssh/index.js';
import { checkServiceName, checkServiceSpec, type ServiceManager, type ServiceSpec } from './types.js';

export const SUPERVISOR_DIR = '/etc/kubeadm2ha/services';
export const envFilePath = (name: string): string => `${SUPERVISOR_DIR}/${name}.env`;
export const pidFilePath = (name: string): string => `/run/${name}.pid`;
export const logFilePath = (name: string): string => `/var/log/${name}.log`;

/** The definition file: sourced by sh, so every value is quoted. K2H_* are ours and not exported. */
export function renderEnvFile(spec: ServiceSpec): string {
  checkServiceSpec(spec);
  return [
    '# Managed by kubeadm2ha (k2h-supervise); changes here are overwritten.',
    `K2H_DESCRIPTION=${quote(spec.description)}`,
    `K2H_BIN=${quote(spec.command[0] ?? '')}`,
    `K2H_COMMAND=${quote(shellCommand(spec.command))}`,
    `K2H_LOG=${quote(logFilePath(spec.name))}`,
    ...Object.entries(spec.env ?? {}).map(([k, v]) => `export ${k}=${quote(v)}`),
    '',
  ].join('\n');
}

// $1 = service name (checked by checkServiceName before it gets here). Defines $pid (from the pid file) and
// alive PID: the process exists, is not a zombie, and runs our binary (also when that was replaced on disk).
const prelude = `
set -e
name=$1; env=${SUPERVISOR_DIR}/$name.env; pidf=/run/$name.pid
[ -f "$env" ] || { echo "service $name is not installed ($env is missing)" >&2; exit 3; }
. "$env"
exe=$(readlink -f "$K2H_BIN" || echo "$K2H_BIN")
pid=$(cat "$pidf" 2>/dev/null || true)
running() { [ -n "$1" ] && [ -d "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
alive() {
  running "$1" || return 1
  case "$(readlink "/proc/$1/exe" 2>/dev/null)" in "$exe" | "$exe (deleted)") return 0 ;; esac
  return 1
}
`;

// Start detached: setsid (own session, survives the SSH channel), nohup, no stdin, output appended to the log.
// setsid does not fork here (a background job is not a group leader), so $! is the daemon's own pid. Then watch it
// for half a second: a daemon that dies at once (bad flag, unreadable certificate) fails this step with its last
// log lines, instead of later as an anonymous unhealthy member. The arguments after the name are files to remove
// once the daemon runs (the markers of a restart owed to it); not when it already ran, as it may run an old config.
const startScript = `${prelude}
if alive "$pid"; then exit 0; fi
mkdir -p "$(dirname "$K2H_LOG")"
setsid nohup sh -c "exec $K2H_COMMAND" </dev/null >>"$K2H_LOG" 2>&1 &
pid=$!
echo "$pid" > "$pidf.tmp"; mv -f "$pidf.tmp" "$pidf"
i=0; while [ $i -lt 5 ] && running "$pid"; do sleep 0.1; i=$((i+1)); done
if ! running "$pid"; then
  echo "$name exited right after starting; last lines of $K2H_LOG:" >&2; tail -n 15 "$K2H_LOG" >&2; rm -f "$pidf"; exit 1
fi
shift; [ $# -eq 0 ] || rm -f -- "$@"
`;

// TERM, wait up to 10 s (etcd flushes and leaves cleanly), then KILL and wait up to 5 s more.
const stopScript = `${prelude}
if alive "$pid"; then
  kill -TERM "$pid" 2>/dev/null || true
  i=0; while alive "$pid" && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
  if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  i=0; while alive "$pid" && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
  if alive "$pid"; then echo "$name (pid $pid) did not stop" >&2; exit 1; fi
fi
rm -f "$pidf"
`;

/** Prints active or inactive for the service named by $1 (exit 3 when it is not installed); the setup facts run it too. */
export const statusScript = `${prelude}
if alive "$pid"; then echo active; else echo inactive; fi
`;

export class SupervisorServiceManager implements ServiceManager {
  readonly kind = 'supervisor' as const;

  constructor(private readonly session: HostSession) {}

  async install(spec: ServiceSpec): Promise<{ changed: boolean }> {
    return this.session.putFile(envFilePath(spec.name), renderEnvFile(spec), { mode: 0o600 });
  }

  async start(name: string, opts: { clear?: string[] } = {}): Promise<void> {
    await this.script(startScript, name, 'start', opts.clear);
  }

  async stop(name: string): Promise<void> {
    await this.script(stopScript, name, 'stop');
  }

  async restart(name: string, opts: { clear?: string[] } = {}): Promise<void> {
    await this.stop(name);
    await this.start(name, opts);
  }

  async isActive(name: string): Promise<boolean> {
    return (await this.script(statusScript, name, 'status')).trim() === 'active';
  }

  private async script(script: string, name: string, verb: string, args: string[] = []): Promise<string> {
    checkServiceName(name);
    const r = await this.session.run(['sh', '-c', script, 'k2h-supervise', name, ...args], {
      action: `${verb} ${name}`,
      timeoutMs: 60_000,
    });
    return r.stdout;
  }
}
