package config

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xalived/xalived/internal/testenv"
)

const keywordsFile = "testdata/keywords-keepalived.json"

// kwContext places one keyword line inside a block of a given kind.
type kwContext struct {
	name string
	wrap func(line string) string
}

const (
	kwVI  = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n"
	kwVS  = "virtual_server 198.51.100.1 80 {\n lb_kind NAT\n protocol TCP\n"
	kwRS  = kwVS + " real_server 198.51.100.2 80 {\n"
	kwEnd = "}\n"
)

func kwContexts() []kwContext {
	in := func(head, tail string) func(string) string {
		return func(l string) string { return head + l + "\n" + tail }
	}
	ctx := []kwContext{
		{"top", in("", "")},
		{"global_defs", in("global_defs {\n", kwEnd)},
		{"vrrp_instance", in(kwVI, kwEnd)},
		{"authentication", in(kwVI+" authentication {\n", " }\n"+kwEnd)},
		{"vrrp_sync_group", in(kwVI+kwEnd+"vrrp_sync_group G {\n group {\n  VI_1\n }\n", kwEnd)},
		{"vrrp_script", in("vrrp_script S {\n script /bin/true\n", kwEnd)},
		{"track_file", in("track_file F {\n file /tmp/xalived-kw\n", kwEnd)},
		{"vrrp_track_process", in("vrrp_track_process P {\n process xalived-kw\n", kwEnd)},
		{"bfd_instance", in("bfd_instance B {\n neighbor_ip 198.51.100.9\n", kwEnd)},
		{"garp_group", in("garp_group {\n", kwEnd)},
		{"SSL", in("SSL {\n", kwEnd)},
		{"virtual_server", in(kwVS, kwEnd)},
		{"real_server", in(kwRS, " }\n"+kwEnd)},
		{"url", in(kwRS+"  HTTP_GET {\n   url {\n", "   }\n  }\n }\n"+kwEnd)},
	}
	for _, c := range []string{CheckTCP, CheckHTTP, CheckSSL, CheckMisc, CheckSMTP, CheckDNS, CheckUDP, CheckPing, CheckFile, CheckBFD} {
		ctx = append(ctx, kwContext{c, in(kwRS+"  "+c+" {\n", "  }\n }\n"+kwEnd)})
	}
	return ctx
}

// kwRecord is keepalived's verdict on every candidate keyword in every
// context: the words it reports as unknown.
type kwRecord struct {
	Keepalived string              `json:"keepalived"`
	Candidates []string            `json:"candidates"`
	Unknown    map[string][]string `json:"unknown"`
}

var manWordRE = regexp.MustCompile(`^ {6,30}(?:@\^?[a-z0-9]+ +)?([a-zA-Z][a-zA-Z0-9_-]*)(?: |$)`)
var manKeywordRE = regexp.MustCompile(`^[a-z][a-z0-9_-]*$|^[A-Z][A-Z_]*(?:_CHECK|_GET)$|^SSL$`)

// manKeywords collects candidate keywords: the first word of every
// indented line of keepalived.conf(5), plus the keywords our parser knows.
func manKeywords(t *testing.T) []string {
	out, err := exec.Command("sh", "-c", "MANWIDTH=160 man keepalived.conf 2>/dev/null | col -bx").Output()
	if err != nil || len(out) < 10000 {
		t.Fatalf("man keepalived.conf: %v", err)
	}
	set := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if m := manWordRE.FindStringSubmatch(sc.Text()); m != nil && manKeywordRE.MatchString(m[1]) {
			set[m[1]] = true
		}
	}
	for _, k := range []string{"include", "includer", "includem", "includew", "includeb", "includea", "include_check"} {
		delete(set, k)
	}
	var words []string
	for w := range set {
		words = append(words, w)
	}
	sort.Strings(words)
	return words
}

var kaUnknownRE = regexp.MustCompile(`Unknown keyword '([^']*)'`)

// keepalivedUnknown runs keepalived -t on one generated file and says
// whether it reported word as unknown.
func keepalivedUnknown(dir, text, word string) (bool, error) {
	f, err := os.CreateTemp(dir, "kw-*.conf")
	if err != nil {
		return false, err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return false, err
	}
	f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, "keepalived", "-t", "-i", "kw", "-f", f.Name()).CombinedOutput()
	for _, m := range kaUnknownRE.FindAllStringSubmatch(string(out), -1) {
		if m[1] == word {
			return true, nil
		}
	}
	return false, nil
}

func recordKeywords(t *testing.T) {
	testenv.RequireCommand(t, "keepalived", "man")
	cands := manKeywords(t)
	rec := kwRecord{Keepalived: keepalivedVersion(), Candidates: cands, Unknown: map[string][]string{}}
	dir := t.TempDir()
	type job struct{ ctx, word, text string }
	jobs := make(chan job)
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				unk, err := keepalivedUnknown(dir, j.text, j.word)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if unk {
					rec.Unknown[j.ctx] = append(rec.Unknown[j.ctx], j.word)
				}
				mu.Unlock()
			}
		}()
	}
	for _, c := range kwContexts() {
		for _, w := range cands {
			jobs <- job{c.name, w, c.wrap(w + " 1")}
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	for k := range rec.Unknown {
		sort.Strings(rec.Unknown[k])
	}
	data, _ := json.MarshalIndent(rec, "", "  ")
	if err := os.WriteFile(keywordsFile, append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// keywordDifferences lists keywords where xalived and keepalived 2.2.7
// disagree about being known, context by context; deliberate ones (newer
// keywords xalived accepts) are returned separately.
func keywordDifferences(t *testing.T, rec kwRecord) (bad, newer []string) {
	for _, c := range kwContexts() {
		unknown := map[string]bool{}
		for _, w := range rec.Unknown[c.name] {
			unknown[w] = true
		}
		for _, w := range rec.Candidates {
			text := c.wrap(w + " 1")
			_, diags, _ := Parse("kw.conf", []byte(text), Options{ConfigID: "kw", FS: memFS{}})
			ours := strings.Contains(diags.String(), fmt.Sprintf("unknown keyword '%s'", w))
			isNewer := strings.Contains(diags.String(), fmt.Sprintf("'%s' needs keepalived", w))
			switch {
			case ours == unknown[w]:
			case unknown[w] && slices.Contains(OwnKeywords[w], c.name):
				newer = append(newer, c.name+"/"+w+" (ours)")
			case isNewer && unknown[w]:
				newer = append(newer, c.name+"/"+w)
			case unknown[w]:
				bad = append(bad, fmt.Sprintf("%s: %s is unknown to keepalived 2.2.7 but accepted by xalived", c.name, w))
			default:
				bad = append(bad, fmt.Sprintf("%s: %s is known to keepalived 2.2.7 but unknown to xalived", c.name, w))
			}
		}
	}
	return bad, newer
}

// TestKeywordsMatchKeepalived checks, for every keyword of keepalived.conf(5)
// in every block, that xalived reports "unknown keyword" exactly where
// keepalived 2.2.7 does (recorded in testdata/keywords-keepalived.json by
// -update-keepalived). Keywords added after 2.2.7 are accepted with a
// warning instead.
func TestKeywordsMatchKeepalived(t *testing.T) {
	if *updateKeepalived {
		recordKeywords(t)
	}
	data, err := os.ReadFile(keywordsFile)
	if err != nil {
		t.Fatalf("%v (run go test -run TestKeywordsMatchKeepalived -update-keepalived)", err)
	}
	var rec kwRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	bad, newer := keywordDifferences(t, rec)
	for _, b := range bad {
		t.Error(b)
	}
	t.Logf("%d candidates x %d contexts; accepted as newer than 2.2.7: %s", len(rec.Candidates), len(kwContexts()), strings.Join(newer, " "))
}
