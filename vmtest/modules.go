package main

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// guestModules are the modules the guest loads at boot, with their dependencies. A module the
// kernel builds in or lacks (ip_vs_twos before 6.2) is left out; VM tests ask vmenv.Has for
// optional ones and vmenv.Require for the ones they cannot do without.
var guestModules = []string{
	// crc32c provider first: libcrc32c (needed by ip_vs via nf_conntrack) has it as a softdep only.
	"crc32c_generic", "crc32c_intel",
	"ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_lc", "ip_vs_wlc", "ip_vs_lblc", "ip_vs_lblcr",
	"ip_vs_sh", "ip_vs_dh", "ip_vs_sed", "ip_vs_nq", "ip_vs_mh", "ip_vs_fo", "ip_vs_ovf", "ip_vs_twos",
	"nf_conntrack", "nf_nat", "nf_defrag_ipv4", "nf_defrag_ipv6",
	"veth", "dummy", "bridge", "macvlan",
	// IPVS tunnelling (lb_kind TUN) and its encapsulations.
	"ipip", "ip6_tunnel", "tunnel4", "tunnel6", "fou", "fou6", "ip_gre",
}

type modIndex map[string]string // name (underscores) -> path relative to the modules dir

func indexModules(modDir string) (modIndex, error) {
	idx := modIndex{}
	err := filepath.WalkDir(filepath.Join(modDir, "kernel"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		base := d.Name()
		for _, suf := range []string{".ko.xz", ".ko.zst", ".ko.gz", ".ko"} {
			if strings.HasSuffix(base, suf) {
				rel, _ := filepath.Rel(modDir, p)
				idx[strings.ReplaceAll(strings.TrimSuffix(base, suf), "-", "_")] = rel
				break
			}
		}
		return nil
	})
	return idx, err
}

// plainModule returns the uncompressed module, decompressing into stage on first use.
func plainModule(modDir, rel, stage string) (string, error) {
	src := filepath.Join(modDir, rel)
	if strings.HasSuffix(rel, ".ko") {
		return src, nil
	}
	dst := filepath.Join(stage, strings.TrimSuffix(filepath.Base(rel), filepath.Ext(rel)))
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	var tool string
	switch filepath.Ext(rel) {
	case ".xz":
		tool = "xz"
	case ".zst":
		tool = "zstd"
	case ".gz":
		tool = "gzip"
	}
	out, err := exec.Command(tool, "-dc", src).Output()
	if err != nil {
		return "", fmt.Errorf("%s -dc %s: %w", tool, src, err)
	}
	if err := os.WriteFile(dst+".tmp", out, 0o644); err != nil {
		return "", err
	}
	return dst, os.Rename(dst+".tmp", dst)
}

// modinfoDepends reads the depends= field of a module's .modinfo section.
func modinfoDepends(path string) ([]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("%s: no .modinfo section", path)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, err
	}
	for _, kv := range bytes.Split(data, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			var deps []string
			for _, d := range strings.Split(string(v), ",") {
				if d = strings.TrimSpace(d); d != "" {
					deps = append(deps, strings.ReplaceAll(d, "-", "_"))
				}
			}
			return deps, nil
		}
	}
	return nil, nil
}

// resolveModules returns the uncompressed module files to load, dependencies first.
func resolveModules(k *kernel, stage string) ([]string, error) {
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return nil, err
	}
	idx, err := indexModules(k.ModDir)
	if err != nil {
		return nil, err
	}
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name string) error
	visit = func(name string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("module dependency cycle at %s", name)
		case 2:
			return nil
		}
		rel, ok := idx[name]
		if !ok {
			state[name] = 2 // built in, or not built: nothing to load
			return nil
		}
		state[name] = 1
		path, err := plainModule(k.ModDir, rel, stage)
		if err != nil {
			return err
		}
		deps, err := modinfoDepends(path)
		if err != nil {
			return err
		}
		for _, d := range deps {
			if _, ok := idx[d]; !ok {
				return fmt.Errorf("%s depends on %s, which %s does not ship", name, d, k.Release)
			}
			if err := visit(d); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, path)
		return nil
	}
	for _, m := range guestModules {
		if err := visit(m); err != nil {
			return nil, err
		}
	}
	return order, nil
}
