import { describe, expect, it } from 'vitest';
import { evaluatePorts, parseFacts, probes, sameSubnet } from '../../../src/activities/preflight-checks.js';
import type { CheckSpec } from '../../../src/plan/types.js';

const run = (id: keyof typeof probes, out: string, params: CheckSpec['params'] = {}, skewMs?: number) =>
  probes[id].evaluate(
    parseFacts(out),
    { id, title: id, params },
    { raw: out, ...(skewMs !== undefined && { skewMs }) },
  );

describe('preflight verdicts', () => {
  it('accepts Debian 12 and refuses Debian 10', () => {
    expect(run('os', 'id=debian\nversion=12\npretty=Debian 12\nkernel=6.1.0\narch=x86_64').status).toBe('pass');
    const old = run('os', 'id=debian\nversion=10\npretty=Debian 10\nkernel=4.19.0\narch=x86_64');
    expect(old).toMatchObject({ status: 'fail', message: 'Debian 10 is too old (need debian 11+)' });
  });
  it('warns on an unknown distribution and an old kernel', () => {
    expect(run('os', 'id=arch\nversion=\npretty=Arch\nkernel=6.1\narch=x86_64').status).toBe('warn');
    expect(run('os', 'id=ubuntu\nversion=22.04\npretty=U\nkernel=4.15.0-1\narch=x86_64').status).toBe('warn');
  });
  it('fails a master with one CPU', () => {
    const r = run('resources', 'cpus=1\nmemKiB=4000000', { minCpus: 2, minMemoryMiB: 1700 });
    expect(r).toMatchObject({ status: 'fail', message: '1 CPU(s), need 2' });
  });
  it('fails active swap and warns about swap in fstab', () => {
    expect(run('swap', 'active=1\nfstab=1').status).toBe('fail');
    expect(run('swap', 'active=0\nfstab=1').status).toBe('warn');
    expect(run('swap', 'active=0\nfstab=0').status).toBe('pass');
  });
  it('fails when br_netfilter is missing and only warns for ip_vs', () => {
    expect(run('kernel-modules', 'br_netfilter=0\noverlay=1\nip_vs=1').status).toBe('fail');
    expect(run('kernel-modules', 'br_netfilter=1\noverlay=1\nip_vs=0').status).toBe('warn');
  });
  it('names the sysctl that is wrong', () => {
    const r = run('sysctl', 'net/bridge/bridge-nf-call-iptables=1\nnet/ipv4/ip_forward=0');
    expect(r.status).toBe('fail');
    expect(r.message).toContain('net.ipv4.ip_forward=0');
  });
  it('refuses cgroup v1 from Kubernetes 1.35 and warns before', () => {
    expect(run('cgroups', 'fs=tmpfs', { kubernetesMinor: 32 }).status).toBe('warn');
    expect(run('cgroups', 'fs=tmpfs', { kubernetesMinor: 35 }).status).toBe('fail');
    expect(run('cgroups', 'fs=cgroup2fs', { kubernetesMinor: 35 }).status).toBe('pass');
  });
  it('judges clock skew by the smallest skew its round trip allows', () => {
    const clock = (skewMs: number, roundTripMs: number) =>
      probes.clock.evaluate(
        parseFacts(''),
        { id: 'clock', title: 'clock', params: { warnSkewMs: 500, maxSkewMs: 2000 } },
        {
          raw: '',
          skewMs,
          roundTripMs,
        },
      );
    // 2121 ms measured over a 600 ms round trip: at least 1821 ms off, a warning, not a failure.
    expect(clock(2121, 600)).toMatchObject({ status: 'warn', message: 'clock differs by 2121 ± 300 ms' });
    expect(clock(2600, 600)).toMatchObject({ status: 'fail', facts: { skewMs: 2600, roundTripMs: 600 } });
    expect(clock(-30, 20)).toMatchObject({ status: 'pass', message: 'skew -30 ± 10 ms' });
    // A round trip so slow that the skew cannot be told from a warning's threshold says so.
    expect(clock(100, 1400)).toMatchObject({ status: 'warn' });
    expect(clock(100, 1400).message).toContain('not measured closer than 100 ± 700 ms');
    // Between 500 and 1480 ms off: not provably past the warning threshold, not provably within it either.
    expect(clock(990, 980)).toMatchObject({
      status: 'warn',
      message: "clock skew not measured closer than 990 ± 490 ms: the probe's round trip was slow",
    });
    expect(clock(-1200, 1200)).toMatchObject({ status: 'warn', message: 'clock differs by -1200 ± 600 ms' });
    expect(clock(450, 200)).toMatchObject({ status: 'warn' });
    expect(clock(400, 200)).toMatchObject({ status: 'pass', message: 'skew 400 ± 100 ms' });
  });
  it('judges clock skew by thresholds', () => {
    expect(run('clock', '', { warnSkewMs: 500, maxSkewMs: 2000 }, 30).status).toBe('pass');
    expect(run('clock', '', { warnSkewMs: 500, maxSkewMs: 2000 }, -900).status).toBe('warn');
    expect(run('clock', '', { warnSkewMs: 500, maxSkewMs: 2000 }, 2500).status).toBe('fail');
  });
  it('names the process holding a required port', () => {
    const ss =
      'LISTEN 0 128 10.200.1.11:22 0.0.0.0:* users:(("sshd",pid=9,fd=3))\nLISTEN 0 4096 *:6443 *:* users:(("kube-apiserver",pid=7,fd=3))';
    expect(evaluatePorts(ss, [6443, 10250])).toMatchObject({
      status: 'fail',
      message: 'in use: 6443 (kube-apiserver)',
    });
    expect(evaluatePorts(ss, [10250]).status).toBe('pass');
    // The probe lists only the required ports, and nothing when all are free.
    expect(evaluatePorts('', [6443, 10250])).toMatchObject({ status: 'pass', message: '6443, 10250 free' });
  });
  it('requires the VIP on-link in the interface subnet', () => {
    const params = { vip: '10.200.1.100', vipPrefixLength: 24, vipInterface: 'eth0' };
    expect(run('vip-subnet', 'addr=10.200.1.11/24\nroute=10.200.1.100 dev eth0 src 10.200.1.11', params).status).toBe(
      'pass',
    );
    expect(run('vip-subnet', 'addr=10.200.2.11/24\nroute=x', params).message).toContain('not in the subnet');
    expect(run('vip-subnet', 'addr=10.200.1.11/24\nroute=10.200.1.100 via 10.200.1.1 dev eth0', params).status).toBe(
      'fail',
    );
    expect(run('vip-subnet', '', params).message).toContain('has no IPv4 address');
  });
  it('computes subnets', () => {
    expect(sameSubnet('10.200.1.11', '10.200.1.100', 24)).toBe(true);
    expect(sameSubnet('10.200.1.11', '10.200.2.100', 24)).toBe(false);
    expect(sameSubnet('10.200.1.11', '10.200.2.100', 16)).toBe(true);
  });
  it('accepts containerd 1.6+ and warns when it is absent', () => {
    expect(run('container-runtime', 'containerd=1.6.20\nrunc=1.1.5\nsocket=1').status).toBe('pass');
    expect(run('container-runtime', 'socket=0').status).toBe('warn');
    expect(run('container-runtime', 'containerd=1.5.9\nrunc=1.1\nsocket=1').status).toBe('fail');
  });
});
