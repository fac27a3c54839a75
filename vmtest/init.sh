#!/bin/busybox sh
# PID 1 of the vmtest guest: mount, load modules, run each test binary, report, power off.
/bin/busybox mkdir -p /bb
/bin/busybox --install -s /bb
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:/bb HOME=/root TMPDIR=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm /sys/fs/bpf /run /tmp /root
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t bpf bpf /sys/fs/bpf
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
mkdir -p /run/netns
ln -s /run /var/run 2>/dev/null
while read -r m; do
	insmod "$m" || echo "vmtest-init: insmod $m failed"
done < /etc/vmtest/modules
ip link set lo up
. /etc/vmtest/env
echo "VMTEST-READY $(cat /proc/uptime)"
rc=0
while IFS=';' read -r bin dir run bench; do
	cd "$dir" || cd /
	set -- -test.timeout=10m -test.count=1
	[ -n "$VMTEST_VERBOSE" ] && set -- "$@" -test.v
	if [ -n "$run" ]; then set -- "$@" "-test.run=$run"; else set -- "$@" "-test.run=^$"; fi
	[ -n "$bench" ] && set -- "$@" "-test.bench=$bench" -test.benchtime=1x
	echo "VMTEST-START $bin"
	"/tests/$bin" "$@"
	r=$?
	echo "VMTEST-RESULT $bin $r"
	[ "$r" -ne 0 ] && rc=1
done < /etc/vmtest/tests
echo "VMTEST-EXIT $rc"
sync
reboot -f
