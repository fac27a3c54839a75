// Command vmtest boots Debian kernels under qemu and runs, inside them, the tests that need kernel
// features the build host may lack (IPVS and its schedulers, modules, a kernel of a chosen version).
//
// Usage (as root; make vmtest does this):
//
//	go run ./vmtest [-kernels linux-image-cloud-amd64,linux-image-6.12-cloud-amd64] [-run REGEXP] [-bench REGEXP]
//
// A VM test is any Test or Benchmark function in a _test.go file whose build constraint needs the
// vmtest tag:
//
//	//go:build vmtest
//
// Such files never build in a plain `go test ./...`, so the host tier never sees them. vmtest finds
// them with `go list -tags vmtest`, compiles each package that has them with
// `CGO_ENABLED=0 go test -c -tags vmtest`, and runs in the guest only the functions those files
// declare. There is no list of VM tests anywhere else.
//
// For each kernel, vmtest fetches the Debian package with `apt-get download` (meta-package names
// are resolved to the versioned image), unpacks it with `dpkg-deb -x` under vmtest/cache/, picks the
// modules the tests need together with their dependencies (read from each module's .modinfo;
// xz-compressed modules are decompressed here), and writes an uncompressed initramfs holding
// busybox as PID 1, iproute2, ipvsadm and keepalived with their shared libraries, the test binaries
// and their testdata. qemu boots it (KVM when /dev/kvm works, TCG otherwise) with the console on
// ttyS0; the output streams to stdout. The guest prints one result line per test binary and a final
// exit line; vmtest exits non-zero if any binary failed, if a kernel did not report, or if no test ran.
package main
