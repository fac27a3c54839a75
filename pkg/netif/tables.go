package netif

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// rtTablesFiles are where iproute2 keeps table names: the admin's file first, then the
// distribution's default (newer iproute2 installs it under /usr), then drop-ins.
var rtTablesFiles = []string{"/etc/iproute2/rt_tables", "/usr/share/iproute2/rt_tables", "/usr/lib/iproute2/rt_tables"}

var rtTablesDirs = []string{"/etc/iproute2/rt_tables.d", "/usr/share/iproute2/rt_tables.d", "/usr/lib/iproute2/rt_tables.d"}

// TableID resolves a routing table as `ip route ... table NAME` does: a number, one of the
// built-in names, or a name from iproute2's rt_tables files.
func TableID(name string) (int, error) {
	switch name {
	case "", "main":
		return 254, nil
	case "local":
		return 255, nil
	case "default":
		return 253, nil
	case "unspec":
		return 0, nil
	}
	if n, err := strconv.ParseUint(name, 0, 32); err == nil {
		return int(n), nil
	}
	files := append([]string(nil), rtTablesFiles...)
	for _, d := range rtTablesDirs {
		m, _ := filepath.Glob(filepath.Join(d, "*.conf"))
		files = append(files, m...)
	}
	for _, f := range files {
		if id, ok := lookupTable(f, name); ok {
			return id, nil
		}
	}
	return 0, fmt.Errorf("table %q: not a number and not named in iproute2's rt_tables", name)
}

func lookupTable(file, name string) (int, bool) {
	f, err := os.Open(file)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fs := strings.Fields(line)
		if len(fs) < 2 || fs[1] != name {
			continue
		}
		if n, err := strconv.ParseUint(fs[0], 0, 32); err == nil {
			return int(n), true
		}
	}
	return 0, false
}
