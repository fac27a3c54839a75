module github.com/xalived/xalived

go 1.26.0

require (
	github.com/cilium/ebpf v0.22.0
	github.com/google/go-cmp v0.7.0
	github.com/moby/ipvs v1.1.0
	github.com/vishvananda/netlink v1.3.1
	github.com/vishvananda/netns v0.0.5
	golang.org/x/sys v0.50.0
)

require github.com/sirupsen/logrus v1.9.4 // indirect

tool github.com/cilium/ebpf/cmd/bpf2go
