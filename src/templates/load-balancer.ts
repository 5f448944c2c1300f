// The seed's load balancer (cluster-load-balanced.yaml): the VIP's port 8443 spread over every master's apiserver
// on 6443, by haproxy (default) or nginx's stream module. Both listen on all addresses, so the master holding the
// VIP answers on it without binding a non-local address; both check the apiservers and route around a dead one.
// Timeouts are long because watches (kubectl get -w, logs -f) hold one connection open for as long as they run.

export const HAPROXY_CFG = '/etc/haproxy/haproxy.cfg';
export const NGINX_CONF = '/etc/kubeadm2ha/nginx-apiserver.conf';

export interface LoadBalancerSettings {
  port: number;
  backends: { name: string; address: string; port: number }[];
}

/** haproxy ≥ 2.2 (`http-check connect ssl`): TCP passthrough, health from the apiserver's /livez over TLS. */
export function renderHaproxyCfg(s: LoadBalancerSettings): string {
  return `# Managed by kubeadm2ha: the apiserver load balancer (changes here are overwritten).
global
  # No maxconn: haproxy derives it from the file-descriptor limit it is given (a fixed one fails where the limit
  # is lower: "Cannot raise FD limit").
  log stderr format short local0 notice

defaults
  mode tcp
  log global
  option tcplog
  timeout connect 5s
  timeout client 1h
  timeout server 1h
  timeout tunnel 1h

frontend k2h_apiserver
  bind *:${s.port}
  default_backend k2h_apiservers

backend k2h_apiservers
  option httpchk
  http-check connect ssl
  http-check send meth GET uri /livez
  http-check expect status 200
  balance roundrobin
  default-server inter 2s fall 3 rise 2
${s.backends.map((b) => `  server ${b.name} ${b.address}:${b.port} check verify none`).join('\n')}
`;
}

export interface NginxSettings extends LoadBalancerSettings {
  /** Debian builds the stream module as a dynamic module: its .so path, or undefined when nginx has it built in. */
  streamModule?: string;
  /** Where nginx keeps its pid (its own, so a distribution nginx serving HTTP can run beside it). */
  pidFile: string;
}

/** A whole nginx.conf (run with `nginx -c`), stream only. Open-source nginx has passive checks only (max_fails). */
export function renderNginxConf(s: NginxSettings): string {
  return `# Managed by kubeadm2ha: the apiserver load balancer (changes here are overwritten).
${s.streamModule ? `load_module ${s.streamModule};\n` : ''}worker_processes auto;
pid ${s.pidFile};
error_log stderr notice;

events {
  worker_connections 4096;
}

stream {
  upstream k2h_apiservers {
${s.backends.map((b) => `    server ${b.address}:${b.port} max_fails=3 fail_timeout=10s;`).join('\n')}
  }

  server {
    listen ${s.port};
    proxy_pass k2h_apiservers;
    proxy_connect_timeout 2s;
    proxy_timeout 1h;
  }
}
`;
}
