package config

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xalived/xalived/internal/testenv"
)

var updateKeepalived = flag.Bool("update-keepalived", false, "re-record keepalived -t verdicts for testdata/corpus and rewrite AGREEMENT.md")

const (
	corpusDir     = "testdata/corpus"
	verdictsFile  = "testdata/corpus/keepalived-verdicts.json"
	agreementFile = "testdata/corpus/AGREEMENT.md"
)

// kaVerdict is what keepalived -t said about one file.
type kaVerdict struct {
	Exit     int      `json:"exit"`
	Lines    []int    `json:"lines"`
	Messages []string `json:"messages"`
}

// kaRecord is the committed record of keepalived's verdicts and the host
// facts they depended on (which interfaces existed).
type kaRecord struct {
	Keepalived string               `json:"keepalived"`
	Interfaces []string             `json:"interfaces"`
	Files      map[string]kaVerdict `json:"files"`
}

// deliberate lists the files where xalived knowingly differs from
// keepalived 2.2.7, with the reason. A disagreement not listed here fails
// TestCorpus.
var deliberate = map[string]string{
	"golden/newer-keywords.conf":               "deliberate: keywords added after 2.2.7 (state_dump_file, owner_ignore_adverts, v3_checksum_as_v2, timer_expired_backup, sni_name, ...) are accepted with a warning naming the version that introduced them; 2.2.7 reports them as unknown",
	"pqarmitage-keepalived-devel-tools-6.conf": "deliberate: the file starts with `net_namespace $NAME`; with it keepalived 2.2.7 -t only checks the file in the parent process and exits 0 although it prints the same unknown-keyword errors xalived reports (xalived parses the file once, whatever the namespace, and refuses it)",
}

// corpusEntry is one file compared with keepalived: the shared corpus
// (key: path under testdata/corpus) and our own golden inputs (key:
// golden/NAME), each with the config-id both programs get.
type corpusEntry struct {
	key, path, id string
}

func corpusFiles(t testing.TB) []corpusEntry {
	t.Helper()
	var files []corpusEntry
	err := filepath.WalkDir(corpusDir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".conf") {
			rel, _ := filepath.Rel(corpusDir, path)
			files = append(files, corpusEntry{key: rel, path: path, id: "xalived-corpus"})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	n := len(files)
	if n < 72 {
		t.Fatalf("corpus has %d files, expected the 72 shared ones", n)
	}
	golden, _ := filepath.Glob("testdata/golden/*.conf")
	for _, g := range golden {
		files = append(files, corpusEntry{key: "golden/" + filepath.Base(g), path: g, id: "node1"})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].key < files[j].key })
	return files
}

var kaLineRE = regexp.MustCompile(`^\((?:[^()]*: )?Line (\d+)\)`)

// runKeepalived runs keepalived -t on one corpus file.
func runKeepalived(t testing.TB, e corpusEntry) kaVerdict {
	t.Helper()
	abs, _ := filepath.Abs(e.path)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "keepalived", "-t", "-i", e.id, "-f", abs)
	cmd.Dir = filepath.Dir(abs)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	v := kaVerdict{}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("keepalived -t %s: %v", e.key, err)
		}
		v.Exit = ee.ExitCode()
	}
	lines := map[int]bool{}
	seen := map[string]bool{}
	for _, l := range strings.Split(out.String(), "\n") {
		l = strings.TrimRight(l, " ")
		if l == "" {
			continue
		}
		// Drop the file name so the record does not depend on paths.
		norm := l
		if m := kaLineRE.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			lines[n] = true
			norm = "(Line " + m[1] + ")" + l[len(m[0]):]
		}
		if !seen[norm] {
			seen[norm] = true
			v.Messages = append(v.Messages, norm)
		}
	}
	for n := range lines {
		v.Lines = append(v.Lines, n)
	}
	sort.Ints(v.Lines)
	sort.Strings(v.Messages)
	return v
}

func hostInterfaces() []string {
	ifs, _ := net.Interfaces()
	var names []string
	for _, i := range ifs {
		names = append(names, i.Name)
	}
	sort.Strings(names)
	return names
}

// xaVerdict is xalived's verdict in the same terms.
type xaVerdict struct {
	Exit  int
	Lines []int
	Diags Diagnostics
}

func xalivedVerdict(t testing.TB, e corpusEntry, ifaces []string) xaVerdict {
	t.Helper()
	path := e.path
	cfg, diags, err := ParseFile(path, Options{
		ConfigID:        e.id,
		HostChecks:      true,
		InterfaceExists: func(n string) bool { return slices.Contains(ifaces, n) },
	})
	if cfg == nil {
		t.Fatalf("%s: %v", e.key, err)
	}
	v := xaVerdict{Diags: diags}
	if err != nil {
		v.Exit = 5
	}
	lines := map[int]bool{}
	for _, d := range diags {
		if d.Pos.File == path && !d.Late {
			lines[d.Pos.Line] = true
		}
	}
	for n := range lines {
		v.Lines = append(v.Lines, n)
	}
	sort.Ints(v.Lines)
	return v
}

// agree says whether xalived agrees with keepalived on one file: both
// accept, or both refuse and name the same lines.
func agree(ka kaVerdict, xa xaVerdict) (bool, string) {
	if (ka.Exit == 0) != (xa.Exit == 0) {
		return false, fmt.Sprintf("keepalived exit %d, xalived exit %d", ka.Exit, xa.Exit)
	}
	if ka.Exit == 0 {
		return true, ""
	}
	if !slices.Equal(ka.Lines, xa.Lines) {
		return false, fmt.Sprintf("lines differ: keepalived %v, xalived %v", ka.Lines, xa.Lines)
	}
	return true, ""
}

func loadRecord(t testing.TB) kaRecord {
	t.Helper()
	data, err := os.ReadFile(verdictsFile)
	if err != nil {
		t.Fatalf("%v (run go test -run TestCorpus -update-keepalived where keepalived is installed)", err)
	}
	var rec kaRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatalf("%s: %v", verdictsFile, err)
	}
	return rec
}

func keepalivedVersion() string {
	out, _ := exec.Command("keepalived", "--version").CombinedOutput()
	first, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(first)
}

// TestCorpus parses every shared corpus file (no panic) and compares
// xalived's verdict with keepalived's recorded one. With
// -update-keepalived it re-records keepalived's verdicts first.
func TestCorpus(t *testing.T) {
	files := corpusFiles(t)
	if *updateKeepalived {
		testenv.RequireCommand(t, "keepalived")
		rec := kaRecord{Keepalived: keepalivedVersion(), Interfaces: hostInterfaces(), Files: map[string]kaVerdict{}}
		for _, f := range files {
			rec.Files[f.key] = runKeepalived(t, f)
		}
		data, _ := json.MarshalIndent(rec, "", "  ")
		if err := os.WriteFile(verdictsFile, append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rec := loadRecord(t)
	var report []string
	agreed, sharedAgreed, shared := 0, 0, 0
	for _, f := range files {
		if !strings.HasPrefix(f.key, "golden/") {
			shared++
		}
		ka, ok := rec.Files[f.key]
		if !ok {
			t.Errorf("%s: no recorded keepalived verdict (run -update-keepalived)", f.key)
			continue
		}
		xa := xalivedVerdict(t, f, rec.Interfaces)
		ok, why := agree(ka, xa)
		if ok {
			agreed++
			if !strings.HasPrefix(f.key, "golden/") {
				sharedAgreed++
			}
			if _, listed := deliberate[f.key]; listed {
				t.Errorf("%s: agrees now; remove it from the deliberate list", f.key)
			}
			continue
		}
		reason, listed := deliberate[f.key]
		if !listed {
			t.Errorf("%s: %s\nkeepalived:\n  %s\nxalived:\n%s", f.key, why, strings.Join(ka.Messages, "\n  "), xa.Diags)
			reason = "not deliberate: not yet matched"
		}
		report = append(report, fmt.Sprintf("| `%s` | %s | %s |", f.key, why, reason))
	}
	t.Logf("agreement: %d/%d files (shared corpus %d/%d)", agreed, len(files), sharedAgreed, shared)
	if *updateKeepalived {
		writeAgreement(t, rec, shared, sharedAgreed, len(files)-shared, agreed-sharedAgreed, report)
	}
}

func writeAgreement(t *testing.T, rec kaRecord, shared, sharedAgreed, golden, goldenAgreed int, rows []string) {
	var b strings.Builder
	fmt.Fprintf(&b, "# xalived -t versus keepalived -t on the corpus\n\n")
	fmt.Fprintf(&b, "Generated by `go test ./pkg/config -run TestCorpus -update-keepalived`; do not edit.\n\n")
	fmt.Fprintf(&b, "Reference: `%s`, run as `keepalived -t -f FILE` on a host with interfaces %s.\n\n", rec.Keepalived, strings.Join(rec.Interfaces, ", "))
	fmt.Fprintf(&b, "Agreement means: both accept the file (exit 0), or both refuse it (non-zero exit) and name\n")
	fmt.Fprintf(&b, "exactly the same set of line numbers in their messages.\n\n")
	fmt.Fprintf(&b, "**Shared corpus (testdata/corpus, 72 real-world and upstream files): %d of %d agree (%.1f%%).**\n\n", sharedAgreed, shared, 100*float64(sharedAgreed)/float64(shared))
	fmt.Fprintf(&b, "Our own golden inputs (testdata/golden, every construct and broken files): %d of %d agree.\n\n", goldenAgreed, golden)
	if len(rows) == 0 {
		b.WriteString("No disagreements.\n")
	} else {
		b.WriteString("| file | difference | reason |\n| --- | --- | --- |\n")
		for _, r := range rows {
			b.WriteString(r + "\n")
		}
	}
	if err := os.WriteFile(agreementFile, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCorpusLive compares xalived with the keepalived installed on this
// host, run now, on every corpus file (the host's own interfaces apply to
// both).
func TestCorpusLive(t *testing.T) {
	testenv.RequireCommand(t, "keepalived")
	files := corpusFiles(t)
	ifaces := hostInterfaces()
	agreed := 0
	for _, f := range files {
		ka := runKeepalived(t, f)
		xa := xalivedVerdict(t, f, ifaces)
		if ok, why := agree(ka, xa); ok {
			agreed++
		} else if _, listed := deliberate[f.key]; !listed {
			t.Errorf("%s: %s\nkeepalived:\n  %s\nxalived:\n%s", f.key, why, strings.Join(ka.Messages, "\n  "), xa.Diags)
		}
	}
	t.Logf("live agreement: %d/%d files", agreed, len(files))
}
