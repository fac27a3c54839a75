package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// kernel is an unpacked Debian kernel package.
type kernel struct {
	Package string // versioned package name, e.g. linux-image-6.1.0-56-cloud-amd64
	Release string // uname -r
	Vmlinuz string
	ModDir  string // .../lib/modules/<release>
}

var metaDep = regexp.MustCompile(`(?m)^\s*Depends:\s*(linux-image-[0-9][^\s<>]*)`)

// resolvePackage maps a meta-package (linux-image-amd64, linux-image-6.12-cloud-amd64) to the
// versioned image package it depends on; a versioned name is returned unchanged.
func resolvePackage(ctx context.Context, name string) (string, error) {
	out, err := exec.CommandContext(ctx, "apt-cache", "depends", "--important", name).Output()
	if err != nil {
		return "", fmt.Errorf("apt-cache depends %s: %w (is the package known? try apt-get update)", name, err)
	}
	if m := metaDep.FindSubmatch(out); m != nil {
		return string(m[1]), nil
	}
	return name, nil
}

// fetchKernel downloads (once) and unpacks (once) a kernel package into the cache.
func fetchKernel(ctx context.Context, cache, name string) (*kernel, error) {
	pkg, err := resolvePackage(ctx, name)
	if err != nil {
		return nil, err
	}
	debDir := filepath.Join(cache, "deb")
	if err := os.MkdirAll(debDir, 0o755); err != nil {
		return nil, err
	}
	deb, _ := filepath.Glob(filepath.Join(debDir, pkg+"_*.deb"))
	if len(deb) == 0 {
		fmt.Printf("vmtest: apt-get download %s\n", pkg)
		if err := aptDownload(ctx, debDir, pkg); err != nil {
			return nil, err
		}
		deb, _ = filepath.Glob(filepath.Join(debDir, pkg+"_*.deb"))
		if len(deb) == 0 {
			return nil, fmt.Errorf("apt-get download %s left no .deb in %s", pkg, debDir)
		}
	}
	dir := filepath.Join(cache, "kernels", pkg)
	if _, err := os.Stat(filepath.Join(dir, ".unpacked")); err != nil {
		_ = os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		if out, err := exec.CommandContext(ctx, "dpkg-deb", "-x", deb[len(deb)-1], dir).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("dpkg-deb -x %s: %w: %s", deb[len(deb)-1], err, out)
		}
		if err := os.WriteFile(filepath.Join(dir, ".unpacked"), nil, 0o644); err != nil {
			return nil, err
		}
	}
	vmlinuz, _ := filepath.Glob(filepath.Join(dir, "boot", "vmlinuz-*"))
	if len(vmlinuz) != 1 {
		return nil, fmt.Errorf("%s: expected one boot/vmlinuz-*, found %d (a meta-package name that apt could not resolve?)", pkg, len(vmlinuz))
	}
	release := strings.TrimPrefix(filepath.Base(vmlinuz[0]), "vmlinuz-")
	mods := filepath.Join(dir, "lib", "modules", release)
	if _, err := os.Stat(mods); err != nil {
		return nil, fmt.Errorf("%s: no modules for %s: %w", pkg, release, err)
	}
	return &kernel{Package: pkg, Release: release, Vmlinuz: vmlinuz[0], ModDir: mods}, nil
}

func aptDownload(ctx context.Context, dir, pkg string) error {
	try := func() ([]byte, error) {
		cmd := exec.CommandContext(ctx, "apt-get", "download", "-q", pkg)
		cmd.Dir = dir
		return cmd.CombinedOutput()
	}
	out, err := try()
	if err == nil {
		return nil
	}
	// A fresh machine may have stale package lists.
	if uout, uerr := exec.CommandContext(ctx, "apt-get", "update", "-qq").CombinedOutput(); uerr != nil {
		return errors.Join(fmt.Errorf("apt-get download %s: %w: %s", pkg, err, bytes.TrimSpace(out)),
			fmt.Errorf("apt-get update: %w: %s", uerr, uout))
	}
	if out, err = try(); err != nil {
		return fmt.Errorf("apt-get download %s: %w: %s", pkg, err, bytes.TrimSpace(out))
	}
	return nil
}
