package config

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// lvsConfig is a configuration of n virtual servers of 3 real servers each, with a group,
// checkers, a sorry server and a VRRP instance around them: the blocks incremental parsing
// re-parses alone, and others it must leave to a full parse.
func lvsConfig(n int) string {
	var b strings.Builder
	b.WriteString("global_defs {\n    router_id inc\n}\n$PORT=80\nvirtual_server_group g1 {\n    203.0.113.200 80\n}\n")
	b.WriteString("vrrp_instance VI {\n    interface eth0\n    virtual_router_id 9\n    priority 100\n    virtual_ipaddress {\n        203.0.113.250\n    }\n}\n")
	for v := range n {
		fmt.Fprintf(&b, "virtual_server 203.0.113.%d %d {\n    delay_loop 6\n    lb_algo wlc\n    lb_kind NAT\n    protocol TCP\n", v+1, 1000+v)
		if v == 1 {
			b.WriteString("    sorry_server 198.51.100.99 80\n    quorum 2\n")
		}
		for r := range 3 {
			fmt.Fprintf(&b, "    real_server 198.51.100.%d 80 {\n        weight %d\n", 11+r, r+1)
			if r == 1 {
				b.WriteString("        TCP_CHECK {\n            connect_timeout 3\n        }\n")
			}
			b.WriteString("    }\n")
		}
		b.WriteString("}\n")
	}
	b.WriteString("virtual_server group g1 {\n    lb_algo rr\n    lb_kind DR\n    protocol TCP\n    real_server 198.51.100.50 80 {\n        weight 1\n    }\n}\n")
	return b.String()
}

// sameParse fails unless the incremental parse of data gives exactly what a full parse gives.
func sameParse(t testing.TB, in *Incremental, name string, data []byte, opts Options, what string) {
	t.Helper()
	got, gd, gerr := in.Parse(name, data)
	want, wd, werr := Parse(name, data, opts)
	if fmt.Sprint(gerr) != fmt.Sprint(werr) {
		t.Fatalf("%s (%s): error %v, full parse %v", what, in.LastPath, gerr, werr)
	}
	if !reflect.DeepEqual(gd, wd) {
		t.Fatalf("%s (%s): diagnostics\n%v\nfull parse\n%v", what, in.LastPath, gd, wd)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s (%s): the model differs from the full parse's", what, in.LastPath)
	}
}

// edits are single-line changes, some of which incremental parsing must take (a value, a
// keyword, a blank line) and some it must leave to a full parse (a parameter, a conditional, an
// include, a brace, a comment, a quote, a line added).
var edits = []func(r *rand.Rand, line string) string{
	func(r *rand.Rand, line string) string { // a digit changed
		for i := len(line) - 1; i >= 0; i-- {
			if line[i] >= '0' && line[i] <= '9' {
				return line[:i] + string(rune('0'+r.IntN(10))) + line[i+1:]
			}
		}
		return line + " 7"
	},
	func(r *rand.Rand, line string) string { return "" },
	func(r *rand.Rand, line string) string { return "    weight 5" },
	func(r *rand.Rand, line string) string { return "    lb_algo rr" },
	func(r *rand.Rand, line string) string { return "    inhibit_on_failure" },
	func(r *rand.Rand, line string) string { return "    real_server 198.51.100.77 8080" },
	func(r *rand.Rand, line string) string { return "    no_such_keyword 1" },
	func(r *rand.Rand, line string) string { return "    weight" },
	func(r *rand.Rand, line string) string { return "    weight $PORT" },
	func(r *rand.Rand, line string) string { return "@other " + strings.TrimSpace(line) },
	func(r *rand.Rand, line string) string { return "include /nonexistent/*.conf" },
	func(r *rand.Rand, line string) string { return "$NEW=1" },
	func(r *rand.Rand, line string) string { return "~SEQ(N,1,2) weight $N" },
	func(r *rand.Rand, line string) string { return line + " }" },
	func(r *rand.Rand, line string) string { return "}" },
	func(r *rand.Rand, line string) string { return line + " {" },
	func(r *rand.Rand, line string) string { return "{" },
	func(r *rand.Rand, line string) string { return line + " # comment" },
	func(r *rand.Rand, line string) string { return `    weight "3"` },
	func(r *rand.Rand, line string) string { return line + "\n    weight 4" },
	func(r *rand.Rand, line string) string { return "\t" + strings.TrimSpace(line) + "  " },
}

// TestIncrementalMatchesFull applies random single-line edits, chained, to every testdata
// configuration and to a generated one of virtual servers, and compares each incremental parse
// with a full parse of the same text. The generated configuration must take the block path often.
func TestIncrementalMatchesFull(t *testing.T) {
	files, _ := filepath.Glob("testdata/golden/*.conf")
	corpus, _ := filepath.Glob("testdata/corpus/*.conf")
	files = append(files, corpus...)
	if len(files) < 10 {
		t.Fatalf("testdata: %d configurations", len(files))
	}
	texts := map[string]string{"generated": lvsConfig(20)}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		texts[f] = string(b)
	}
	blockHits := 0
	for name, text := range texts {
		r := rand.New(rand.NewPCG(1, uint64(len(text))))
		opts := Options{ConfigID: "test", FS: memFS{}}
		in := NewIncremental(opts)
		sameParse(t, in, "keepalived.conf", []byte(text), opts, name+": first")
		rounds := 40
		if name == "generated" {
			rounds = 400
		}
		base := text
		for i := range rounds {
			if name == "generated" && i%4 == 3 {
				text = base // a chain of edits that broke the braces parses in full ever after
			}
			lines := strings.Split(text, "\n")
			l := r.IntN(len(lines))
			e := r.IntN(len(edits))
			lines[l] = edits[e](r, lines[l])
			text = strings.Join(lines, "\n")
			sameParse(t, in, "keepalived.conf", []byte(text), opts, fmt.Sprintf("%s: edit %d (kind %d) of line %d", name, i, e, l+1))
			if in.LastPath == "block" {
				blockHits++
			}
			// Sometimes the same text again (unchanged, when the previous parse could be kept).
			if r.IntN(8) == 0 {
				kept := in.last != nil
				sameParse(t, in, "keepalived.conf", []byte(text), opts, name+": unchanged")
				if kept && in.LastPath != "unchanged" {
					t.Fatalf("%s: same text parsed as %q", name, in.LastPath)
				}
			}
		}
	}
	if blockHits < 100 {
		t.Fatalf("only %d edits took the block path", blockHits)
	}
}

// TestIncrementalPaths checks which way typical edits go.
func TestIncrementalPaths(t *testing.T) {
	base := lvsConfig(5)
	opts := Options{ConfigID: "test", FS: memFS{}}
	for _, c := range []struct {
		name, from, to, path string
	}{
		{"weight", "        weight 2\n", "        weight 9\n", "block"},
		{"keyword", "    lb_algo wlc\n", "    lb_algo rr \n", "block"},
		{"parameter", "        weight 2\n", "        weight $PORT\n", "full: line"},
		{"brace", "        weight 2\n", "        weight 2 }\n", "full: the block's braces changed"},
		{"line added", "        weight 2\n", "        weight 2\n        weight 3\n", "full: lines added or removed"},
		{"vrrp", "    priority 100\n", "    priority 101\n", "full: change outside a virtual_server block"},
		{"header", "virtual_server 203.0.113.3 1002 {\n", "virtual_server 203.0.113.3 1003 {\n", "full: change outside a virtual_server block"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := NewIncremental(opts)
			sameParse(t, in, "k.conf", []byte(base), opts, "base")
			i := strings.Index(base, c.from) + 3*len(c.from) // not the first virtual server
			i = i + strings.Index(base[i:], c.from)
			if c.name == "vrrp" || c.name == "header" {
				i = strings.Index(base, c.from)
			}
			changed := base[:i] + c.to + base[i+len(c.from):]
			sameParse(t, in, "k.conf", []byte(changed), opts, c.name)
			if !strings.HasPrefix(in.LastPath, c.path) {
				t.Fatalf("%s: path %q, want %q", c.name, in.LastPath, c.path)
			}
		})
	}
}

// TestIncrementalFile reloads a file on disk, as the daemon does, and checks that a one-line
// change shares every other virtual server with the previous model.
func TestIncrementalFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keepalived.conf")
	base := lvsConfig(50)
	if err := os.WriteFile(path, []byte(base), 0o644); err != nil {
		t.Fatal(err)
	}
	in := NewIncremental(Options{ConfigID: "test"})
	c1, _, err := in.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.LastIndex(base, "        weight 3\n")
	changed := base[:i] + "        weight 8\n" + base[i+len("        weight 3\n"):]
	if err := os.WriteFile(path, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	c2, _, err := in.ParseFile(path)
	if err != nil || in.LastPath != "block" || in.Base != c1 {
		t.Fatalf("reload: %v, path %q, base is the previous model: %v", err, in.LastPath, in.Base == c1)
	}
	want, _, _ := ParseFile(path, Options{ConfigID: "test"})
	if !reflect.DeepEqual(c2, want) {
		t.Fatal("the model differs from the full parse's")
	}
	same := 0
	for k := range c1.VirtualServers {
		if c1.VirtualServers[k] == c2.VirtualServers[k] {
			same++
		}
	}
	if same != len(c1.VirtualServers)-1 {
		t.Fatalf("%d of %d virtual servers shared, want all but one", same, len(c1.VirtualServers))
	}
	// More reloads, each a block re-parse (the reads reuse buffers): every model stays what a
	// full parse of its text gives, however many reloads later.
	models := []*Config{c1, c2}
	texts := []string{base, changed}
	text := changed
	for i := range 6 {
		// One line of another block each time, the text longer or shorter.
		at := 0
		for range 1 + 7*i {
			at += strings.Index(text[at:], "        weight 2\n") + 1
		}
		at--
		w := []string{"20", "200", "21", "2000", "22", "5"}[i]
		text = text[:at] + "        weight " + w + text[at+len("        weight 2"):]
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		c, _, err := in.ParseFile(path)
		if err != nil || in.LastPath != "block" {
			t.Fatalf("reload %d: %v, path %q", i, err, in.LastPath)
		}
		models, texts = append(models, c), append(texts, text)
	}
	for i, c := range models {
		want, _, _ := Parse(path, []byte(texts[i]), Options{ConfigID: "test"})
		if !reflect.DeepEqual(c, want) {
			t.Fatalf("model %d changed after later reloads", i)
		}
	}
}

// FuzzIncremental replaces one line of a configuration with arbitrary text and compares the
// incremental parse with a full parse.
func FuzzIncremental(f *testing.F) {
	f.Add([]byte(lvsConfig(3)), 20, "        weight 7")
	f.Add([]byte(lvsConfig(3)), 31, "        weight 7 }")
	f.Add([]byte(lvsConfig(3)), 40, "$X=1")
	f.Add([]byte(lvsConfig(2)), 25, "")
	f.Fuzz(func(t *testing.T, base []byte, line int, repl string) {
		if len(base) > 1<<16 {
			return
		}
		opts := Options{ConfigID: "test", FS: memFS{}, MaxLines: 5000}
		in := NewIncremental(opts)
		sameParse(t, in, "keepalived.conf", base, opts, "base")
		lines := strings.Split(string(base), "\n")
		if line < 0 {
			line = -line
		}
		lines[line%len(lines)] = repl
		sameParse(t, in, "keepalived.conf", []byte(strings.Join(lines, "\n")), opts, "edit")
	})
}

// TestCommonPrefixSuffix checks the word-at-a-time comparisons against the byte-at-a-time ones.
func TestCommonPrefixSuffix(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		a := make([]byte, r.IntN(40))
		for i := range a {
			a[i] = byte('a' + r.IntN(2))
		}
		b := append([]byte(nil), a...)
		if len(b) > 0 && r.IntN(4) > 0 {
			b[r.IntN(len(b))] ^= 1
		}
		b = append(b, make([]byte, r.IntN(3))...)
		p, s := 0, 0
		for p < min(len(a), len(b)) && a[p] == b[p] {
			p++
		}
		for s < min(len(a), len(b)) && a[len(a)-1-s] == b[len(b)-1-s] {
			s++
		}
		if commonPrefix(a, b) != p || commonSuffix(a, b) != s {
			t.Fatalf("%q %q: prefix %d suffix %d, want %d %d", a, b, commonPrefix(a, b), commonSuffix(a, b), p, s)
		}
	}
}

// TestIncrementalBase: Base is the model a block re-parse started from, which after a reload the
// daemon refused (say, for its VRRP part) is not the running one: the daemon then reloads VRRP.
func TestIncrementalBase(t *testing.T) {
	opts := Options{ConfigID: "test", FS: memFS{}}
	in := NewIncremental(opts)
	a := lvsConfig(3)
	cfgA, _, err := in.Parse("k.conf", []byte(a))
	if err != nil || in.Base != nil {
		t.Fatalf("first parse: %v, base %p", err, in.Base)
	}
	b := strings.Replace(a, "    priority 100\n", "    priority 101\n", 1)
	cfgB, _, err := in.Parse("k.conf", []byte(b))
	if err != nil || in.Base != nil || !strings.HasPrefix(in.LastPath, "full") {
		t.Fatalf("VRRP change: %v, path %q, base %p", err, in.LastPath, in.Base)
	}
	i := strings.LastIndex(b, "        weight 3\n")
	c := b[:i] + "        weight 4\n" + b[i+len("        weight 3\n"):]
	if _, _, err := in.Parse("k.conf", []byte(c)); err != nil || in.LastPath != "block" || in.Base != cfgB || in.Base == cfgA {
		t.Fatalf("weight change: %v, path %q, base is B: %v", err, in.LastPath, in.Base == cfgB)
	}
	if _, _, err := in.Parse("k.conf", []byte(c)); err != nil || in.LastPath != "unchanged" || in.Base == nil {
		t.Fatalf("same text: %v, path %q", err, in.LastPath)
	}
}
