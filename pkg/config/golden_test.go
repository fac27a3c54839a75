package config

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden JSON files in testdata/golden")

// goldenResult is what a golden file holds for one configuration.
type goldenResult struct {
	Config      *Config     `json:"config"`
	Diagnostics Diagnostics `json:"diagnostics"`
	Valid       bool        `json:"valid"`
}

// TestGolden parses every testdata/golden/*.conf (config id "node1") and
// compares the model and the diagnostics with the .json next to it.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/golden/*.conf")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	abs, _ := filepath.Abs(".")
	host := hostname()
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, diags, err := ParseFile(f, Options{ConfigID: "node1"})
			if cfg == nil {
				t.Fatalf("parse: %v", err)
			}
			if cfg.Global.RouterID == host {
				cfg.Global.RouterID = "<hostname>"
			}
			res := goldenResult{Config: cfg, Diagnostics: diags, Valid: err == nil}
			got, jerr := json.MarshalIndent(res, "", "  ")
			if jerr != nil {
				t.Fatal(jerr)
			}
			got = bytes.ReplaceAll(got, []byte(abs), []byte("$PKGDIR"))
			got = append(got, '\n')
			golden := strings.TrimSuffix(f, ".conf") + ".json"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, rerr := os.ReadFile(golden)
			if rerr != nil {
				t.Fatalf("%v (run go test -run TestGolden -update)", rerr)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s (run go test -run TestGolden -update and review the diff)\n%s", f, golden, firstDiff(string(want), string(got)))
			}
			// The JSON must read back into the same model.
			var back goldenResult
			if err := json.Unmarshal(got, &back); err != nil {
				t.Errorf("golden JSON does not unmarshal: %v", err)
			}
		})
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return "line " + itoa(i+1) + ":\n  want: " + x + "\n  got:  " + y
		}
	}
	return ""
}
