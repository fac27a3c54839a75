package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
)

// archive collects the files of an initramfs and writes them as an uncompressed newc cpio archive
// (the kernel unpacks it without a decompressor; under emulation that is the fastest choice).
type archive struct {
	entries map[string]entry
}

type entry struct {
	mode   uint32 // including the file type bits
	src    string // host file to copy, for regular files
	data   []byte // literal content, for regular files without src
	target string // symlink target
}

const (
	modeDir  = 0o040000
	modeFile = 0o100000
	modeLink = 0o120000
)

func newArchive() *archive { return &archive{entries: map[string]entry{}} }

func (a *archive) dir(p string) {
	p = strings.Trim(path.Clean(p), "/")
	for p != "" && p != "." {
		if _, ok := a.entries[p]; ok {
			return
		}
		a.entries[p] = entry{mode: modeDir | 0o755}
		p = path.Dir(p)
	}
}

func (a *archive) file(p, src string, perm uint32) {
	p = strings.Trim(path.Clean(p), "/")
	a.dir(path.Dir(p))
	a.entries[p] = entry{mode: modeFile | perm, src: src}
}

func (a *archive) bytes(p string, data []byte, perm uint32) {
	p = strings.Trim(path.Clean(p), "/")
	a.dir(path.Dir(p))
	a.entries[p] = entry{mode: modeFile | perm, data: data}
}

func (a *archive) symlink(p, target string) {
	p = strings.Trim(path.Clean(p), "/")
	a.dir(path.Dir(p))
	a.entries[p] = entry{mode: modeLink | 0o777, target: target}
}

// write emits the archive with parents before children.
func (a *archive) write(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	names := make([]string, 0, len(a.entries))
	for n := range a.entries {
		names = append(names, n)
	}
	sort.Strings(names)
	ino := uint32(1)
	var off int64
	hdr := func(name string, mode uint32, size int64) error {
		n, err := fmt.Fprintf(bw, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%s\x00",
			ino, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, len(name)+1, 0, name)
		ino++
		off += int64(n)
		if err != nil {
			return err
		}
		return pad(bw, &off)
	}
	for _, n := range names {
		e := a.entries[n]
		var data []byte
		switch e.mode &^ 0o7777 {
		case modeLink:
			data = []byte(e.target)
		case modeFile:
			if e.src != "" {
				b, err := os.ReadFile(e.src)
				if err != nil {
					return err
				}
				data = b
			} else {
				data = e.data
			}
		}
		if err := hdr(n, e.mode, int64(len(data))); err != nil {
			return err
		}
		m, err := bw.Write(data)
		off += int64(m)
		if err != nil {
			return err
		}
		if err := pad(bw, &off); err != nil {
			return err
		}
	}
	if err := hdr("TRAILER!!!", 0, 0); err != nil {
		return err
	}
	return bw.Flush()
}

func pad(w io.Writer, off *int64) error {
	if r := *off % 4; r != 0 {
		n, err := w.Write(make([]byte, 4-r))
		*off += int64(n)
		return err
	}
	return nil
}
