package netif

import (
	"os"
	"path/filepath"
	"testing"
)

func TestTableID(t *testing.T) {
	dir := t.TempDir()
	main := filepath.Join(dir, "rt_tables")
	if err := os.WriteFile(main, []byte("# reserved\n255\tlocal\n254\tmain\n100 vip # ours\n0x65 hex\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "d", "x.conf"), []byte("200 dropin\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	oldF, oldD := rtTablesFiles, rtTablesDirs
	rtTablesFiles, rtTablesDirs = []string{main, filepath.Join(dir, "missing")}, []string{filepath.Join(dir, "d")}
	defer func() { rtTablesFiles, rtTablesDirs = oldF, oldD }()
	for name, want := range map[string]int{"": 254, "main": 254, "local": 255, "default": 253, "42": 42,
		"0x10": 16, "vip": 100, "hex": 101, "dropin": 200} {
		got, err := TableID(name)
		if err != nil || got != want {
			t.Errorf("TableID(%q) = %d, %v; want %d", name, got, err, want)
		}
	}
	if _, err := TableID("nosuch"); err == nil {
		t.Error("unknown table name accepted")
	}
}
