#!/bin/bash
# PID 1 of the probe host (see probe.sh): private /etc, /var, /opt (overlays), /run and sysfs, the cgroup tree moved
# back under the new sysfs (runc and the kubelet need it), plain binds for the containerd and kubelet state
# (overlayfs cannot hold overlay snapshots or the kubelet's volume mounts), then it waits to be killed.
set -e
W=$1
exec >>"$W/init.log" 2>&1
hostname k2hk8s-probe
mkdir -p "$W/cg"
mount --rbind /sys/fs/cgroup "$W/cg"
mount -t sysfs k2hk8s-sys /sys
mount --move "$W/cg" /sys/fs/cgroup
for d in etc var opt; do
  mkdir -p "$W/upper/$d" "$W/work/$d"
  mount -t overlay "k2hk8s-$d" -o "lowerdir=/$d,upperdir=$W/upper/$d,workdir=$W/work/$d" "/$d"
done
for d in containerd kubelet; do
  mkdir -p "/var/lib/$d" "$W/state/$d"
  mount --bind "$W/state/$d" "/var/lib/$d"
done
mount -t tmpfs -o mode=755 k2hk8s-run /run
echo ready >"$W/init.ready"
exec sleep infinity
