package config

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// memFS serves only the file being fuzzed, so include lines in fuzz inputs
// never reach the real filesystem.
type memFS map[string][]byte

func (m memFS) ReadFile(name string) ([]byte, error) {
	if b, ok := m[name]; ok {
		return b, nil
	}
	return nil, fs.ErrNotExist
}

func (m memFS) Glob(pattern string) ([]string, error) {
	var out []string
	for k := range m {
		if ok, err := filepath.Match(pattern, k); err != nil {
			return nil, err
		} else if ok {
			out = append(out, k)
		}
	}
	return out, nil
}

// FuzzParse feeds arbitrary text through the preprocessor, the parser and
// validation: no panic, no hang (bounded expansion), a JSON-encodable
// model, and diagnostics that point into the input.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/golden/*.conf")
	more, _ := filepath.Glob("testdata/corpus/*.conf")
	up, _ := filepath.Glob("testdata/corpus/upstream-samples/*.conf")
	seeds = append(append(seeds, more...), up...)
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"~SEQ(A,1,1000000000) ~SEQ(B,1,0) x\n",
		"$A=${A}${A}\n$A\n",
		"$A= \\\n$A \\\n$A\n$A\n",
		"vrrp_instance X {" + strings.Repeat("virtual_ipaddress {", 200) + "\n",
		"include fuzz.conf\n",
		"~LST({A,B},{1,2},{3}) x\n",
		"\"unterminated\n'\\x\n\\",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		name := "/fuzz/fuzz.conf"
		cfg, diags, err := Parse(name, data, Options{ConfigID: "node1", FS: memFS{name: data}, MaxLines: 20000})
		if cfg == nil {
			t.Fatalf("nil config (err %v)", err)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("unexpected error type: %v", err)
		}
		if (err != nil) != diags.HasErrors() {
			t.Fatalf("error %v but HasErrors %v", err, diags.HasErrors())
		}
		lines := strings.Count(string(data), "\n") + 1
		for _, d := range diags {
			if d.Pos.Line < 0 || d.Pos.Line > lines+1 {
				t.Fatalf("diagnostic outside the input (%d lines): %s", lines, d)
			}
		}
		if _, err := json.Marshal(cfg); err != nil {
			t.Fatalf("model does not encode: %v", err)
		}
	})
}
