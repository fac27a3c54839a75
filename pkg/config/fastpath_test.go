package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// noFS has no files: includes in fuzzed input read nothing from the host.
type noFS struct{}

func (noFS) ReadFile(string) ([]byte, error) { return nil, os.ErrNotExist }
func (noFS) Glob(string) ([]string, error)   { return nil, nil }

// preprocess runs the preprocessor alone over data, with or without the plain-line fast path.
func preprocess(name string, data []byte, fast bool) ([]stmt, Diagnostics) {
	var diags Diagnostics
	pp := &preprocessor{fs: noFS{}, configID: "test", diags: &diags, vars: map[string]string{}, seen: map[string]int{},
		maxLines: maxLines, noFastPath: !fast}
	pp.readData(name, data, 0)
	return pp.st, diags
}

// TestPlainLineFastPath: the fast path for plain lines produces exactly the statements and
// diagnostics of the general path, on every configuration in testdata and on lines made to sit
// on the edge of what counts as plain.
func TestPlainLineFastPath(t *testing.T) {
	var inputs []string
	err := filepath.WalkDir("testdata", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".conf") {
			return err
		}
		b, err := os.ReadFile(path)
		inputs = append(inputs, string(b))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) < 50 {
		t.Fatalf("only %d configurations in testdata", len(inputs))
	}
	inputs = append(inputs,
		"a b\n\t{ c }\n \v\f \n}{\n{\n}\nx\ty\vz\fw\n",
		"includes_x 1\ninclude_check\n  @x y\n@^test z\n~SEQ(i,1,2) a $i\n",
		"a b\r\nc # d\ne ! f\n\"g h\" i\nj \\k\nl\u00a0m\n\u00a0\n",
		"$A=1\n$B= \\\n  x \\\n  y\nv $A\n$B\n",
		strings.Repeat("k v\n", 5000),
	)
	for i, in := range inputs {
		fs, fd := preprocess("a.conf", []byte(in), true)
		ss, sd := preprocess("a.conf", []byte(in), false)
		if !reflect.DeepEqual(fs, ss) || !reflect.DeepEqual(fd, sd) {
			t.Errorf("input %d: fast path differs:\nfast %v %v\nslow %v %v", i, fs, fd, ss, sd)
		}
	}
}

// TestPlainLineLimits: the fast path counts lines and work as the general path does.
func TestPlainLineLimits(t *testing.T) {
	in := []byte(strings.Repeat("k v\n\n", 50))
	for _, fast := range []bool{true, false} {
		var diags Diagnostics
		pp := &preprocessor{fs: osFS{}, configID: "test", diags: &diags, vars: map[string]string{}, seen: map[string]int{},
			maxLines: 20, noFastPath: !fast}
		pp.readData("a.conf", in, 0)
		if pp.nlines != 20 || len(diags) != 1 || !strings.Contains(diags[0].Message, "more than 20 lines") {
			t.Errorf("fast %v: %d lines, %v", fast, pp.nlines, diags)
		}
	}
}

// FuzzPlainLineFastPath: on any input, the fast path and the general path agree.
func FuzzPlainLineFastPath(f *testing.F) {
	for _, s := range []string{"a b { c }\n", "include x\n", "@id a\n", "$A=1\na $A\n", "a \"b c\" # d\n", "\u00a0a\n", "a\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		fs, fd := preprocess("a.conf", []byte(in), true)
		ss, sd := preprocess("a.conf", []byte(in), false)
		if !reflect.DeepEqual(fs, ss) || !reflect.DeepEqual(fd, sd) {
			t.Fatalf("fast path differs on %q:\nfast %v %v\nslow %v %v", in, fs, fd, ss, sd)
		}
	})
}
