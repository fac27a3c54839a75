package netif

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// sysctlRoot is where sysctls live; /proc/sys/net is resolved in the caller's namespace.
const sysctlRoot = "/proc/sys"

// sysctlPath turns "net/ipv4/conf/eth0/arp_ignore" into its /proc/sys path. Interface names
// may contain dots, so the key uses slashes.
func sysctlPath(key string) string { return filepath.Join(sysctlRoot, key) }

// ReadSysctl reads a sysctl such as "net/ipv4/conf/eth0/arp_ignore".
func ReadSysctl(key string) (string, error) {
	b, err := os.ReadFile(sysctlPath(key))
	if err != nil {
		return "", fmt.Errorf("read sysctl %s: %w", key, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// WriteSysctl writes a sysctl such as "net/ipv4/conf/eth0/arp_ignore".
func WriteSysctl(key, value string) error {
	if err := os.WriteFile(sysctlPath(key), []byte(value), 0); err != nil {
		return fmt.Errorf("write sysctl %s=%s: %w", key, value, err)
	}
	return nil
}

// IPv6Forwarding reports whether IPv6 forwarding is on for the interface: when it is, an
// unsolicited neighbour advertisement carries the Router flag.
func IPv6Forwarding(ifName string) (bool, error) {
	v, err := ReadSysctl("net/ipv6/conf/" + ifName + "/forwarding")
	if err != nil {
		return false, err
	}
	return v != "0", nil
}

// setSysctls writes each key and returns the previous values of those it changed.
func setSysctls(kv [][2]string) (map[string]string, error) {
	saved := map[string]string{}
	for _, e := range kv {
		old, err := ReadSysctl(e[0])
		if err != nil {
			return saved, err
		}
		if old == e[1] {
			continue
		}
		if err := WriteSysctl(e[0], e[1]); err != nil {
			return saved, err
		}
		saved[e[0]] = old
	}
	return saved, nil
}
