// The apiserver's front door on the masters: keepalived holding the VIP (with its check script on the local
// apiserver) and the seed's load balancer (haproxy or nginx) on the VIP's port. Each config is checked by its own
// daemon (`keepalived --config-test`, `haproxy -c`, `nginx -t`) before it replaces the old one, and each daemon is
// restarted only when its config changed, so a rerun neither moves the VIP nor drops a connection.
import type { HostContext } from '../plan/types.js';
import {
  KEEPALIVED_CHECK_SCRIPT,
  KEEPALIVED_CONF,
  renderApiserverCheck,
  renderKeepalivedConf,
  type KeepalivedSettings,
} from '../templates/keepalived.js';
import {
  HAPROXY_CFG,
  NGINX_CONF,
  renderHaproxyCfg,
  renderNginxConf,
  type LoadBalancerSettings,
} from '../templates/load-balancer.js';
import type { ActivityDeps } from './deps.js';
import { withFailures } from './failures.js';
import { ensureBinary, ensureDaemon, putCheckedFile } from './host-config.js';
import type { EnsureAction } from './services/index.js';

export interface ConfigureKeepalivedInput {
  host: HostContext;
  settings: KeepalivedSettings;
}

export interface ConfigureLoadBalancerInput {
  host: HostContext;
  kind: 'haproxy' | 'nginx';
  settings: LoadBalancerSettings;
}

export interface DaemonConfigResult {
  host: string;
  changed: string[];
  action: EnsureAction;
  serviceManager: string;
}

export const NGINX_LB_SERVICE = 'kubeadm2ha-nginx';
const NGINX_STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

export function createApiserverVipActivities(deps: ActivityDeps) {
  return {
    async configureKeepalived({ host, settings }: ConfigureKeepalivedInput): Promise<DaemonConfigResult> {
      return withFailures(async () => {
        const session = deps.session(host);
        const { path: binary } = await ensureBinary(session, 'keepalived', 'keepalived');
        const changed: string[] = [];
        // The script first: the config names it, and keepalived's script security wants it root-owned, not writable.
        const script = await session.putFile(KEEPALIVED_CHECK_SCRIPT, renderApiserverCheck(settings.apiserverPort), {
          mode: 0o755,
          owner: 'root',
          group: 'root',
          timeoutMs: 30_000,
        });
        if (script.changed) changed.push(KEEPALIVED_CHECK_SCRIPT);
        const conf = await putCheckedFile(session, KEEPALIVED_CONF, renderKeepalivedConf(settings), {
          mode: 0o644,
          what: 'keepalived.conf',
          service: 'keepalived',
          check: (candidate) => [binary, '--config-test', '-f', candidate],
        });
        if (conf.changed) changed.push(KEEPALIVED_CONF);
        const svc = await ensureDaemon(
          session,
          {
            name: 'keepalived',
            description: 'keepalived: the Kubernetes apiserver VIP (kubeadm2ha)',
            // Its own pid files: keepalived refuses to start when its default /run/keepalived.pid names a live
            // process, and without systemd that file is the service manager's (supervisor.ts: /run/<name>.pid).
            command: [
              binary,
              '--dont-fork',
              '--log-console',
              '--log-detail',
              '--use-file',
              KEEPALIVED_CONF,
              '--pid=/run/kubeadm2ha-keepalived.pid',
              '--vrrp_pid=/run/kubeadm2ha-keepalived-vrrp.pid',
              '--checkers_pid=/run/kubeadm2ha-keepalived-checkers.pid',
            ],
            documentation: 'https://keepalived.readthedocs.io',
          },
          conf.restart,
        );
        return { host: host.target.name, changed, ...svc };
      });
    },

    async configureLoadBalancer({ host, kind, settings }: ConfigureLoadBalancerInput): Promise<DaemonConfigResult> {
      return withFailures(async () => {
        const session = deps.session(host);
        if (kind === 'haproxy') {
          const { path: binary } = await ensureBinary(session, 'haproxy', 'haproxy');
          const cfg = await putCheckedFile(session, HAPROXY_CFG, renderHaproxyCfg(settings), {
            mode: 0o644,
            what: 'haproxy.cfg',
            service: 'haproxy',
            check: (candidate) => [binary, '-c', '-q', '-f', candidate],
          });
          const svc = await ensureDaemon(
            session,
            {
              name: 'haproxy',
              description: 'haproxy: the Kubernetes apiserver load balancer (kubeadm2ha)',
              command: [binary, '-db', '-f', HAPROXY_CFG],
              documentation: 'https://docs.haproxy.org',
            },
            cfg.restart,
          );
          return { host: host.target.name, changed: cfg.changed ? [HAPROXY_CFG] : [], ...svc };
        }
        const { path: binary } = await ensureBinary(session, 'nginx', 'nginx');
        // Debian builds the stream module as a loadable module (libnginx-mod-stream); elsewhere it is built in.
        const mod = await session.run(['test', '-f', NGINX_STREAM_MODULE], {
          allowNonZero: true,
          action: 'find the nginx stream module',
        });
        const text = renderNginxConf({
          ...settings,
          pidFile: `/run/${NGINX_LB_SERVICE}-nginx.pid`,
          ...(mod.code === 0 && { streamModule: NGINX_STREAM_MODULE }),
        });
        const conf = await putCheckedFile(session, NGINX_CONF, text, {
          mode: 0o644,
          what: 'the nginx load balancer config',
          service: NGINX_LB_SERVICE,
          check: (candidate) => [binary, '-t', '-q', '-c', candidate],
        });
        const svc = await ensureDaemon(
          session,
          {
            name: NGINX_LB_SERVICE,
            description: 'nginx: the Kubernetes apiserver load balancer (kubeadm2ha)',
            command: [binary, '-c', NGINX_CONF, '-g', 'daemon off;'],
            documentation: 'https://nginx.org/en/docs/stream/ngx_stream_core_module.html',
          },
          conf.restart,
        );
        return { host: host.target.name, changed: conf.changed ? [NGINX_CONF] : [], ...svc };
      });
    },
  };
}
