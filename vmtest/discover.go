package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/build/constraint"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// vmPackage is a package with at least one test file that builds only with the vmtest tag.
type vmPackage struct {
	ImportPath string
	Dir        string
	Tests      []string // Test functions declared in vmtest-only files
	Benchmarks []string // Benchmark functions declared in vmtest-only files
}

// discover lists the packages matching pattern and keeps those that declare VM tests.
func discover(ctx context.Context, root, pattern string) ([]vmPackage, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-tags", "vmtest", "-json=ImportPath,Dir,TestGoFiles,XTestGoFiles", pattern)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w: %s", err, stderr.Bytes())
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	var pkgs []vmPackage
	for {
		var p struct {
			ImportPath, Dir           string
			TestGoFiles, XTestGoFiles []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list output: %w", err)
		}
		vp := vmPackage{ImportPath: p.ImportPath, Dir: p.Dir}
		for _, f := range append(p.TestGoFiles, p.XTestGoFiles...) {
			path := filepath.Join(p.Dir, f)
			only, err := vmOnly(path)
			if err != nil {
				return nil, err
			}
			if !only {
				continue
			}
			tests, benches, err := testFuncs(path)
			if err != nil {
				return nil, err
			}
			vp.Tests = append(vp.Tests, tests...)
			vp.Benchmarks = append(vp.Benchmarks, benches...)
		}
		if len(vp.Tests)+len(vp.Benchmarks) > 0 {
			pkgs = append(pkgs, vp)
		}
	}
	return pkgs, nil
}

// vmOnly reports whether the file's build constraint is satisfied with the vmtest tag and not without.
func vmOnly(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "package ") {
			return false, nil
		}
		if !constraint.IsGoBuild(line) {
			continue
		}
		expr, err := constraint.Parse(line)
		if err != nil {
			return false, fmt.Errorf("%s: %w", path, err)
		}
		with := expr.Eval(func(tag string) bool { return tag == "vmtest" || tag == "linux" || tag == "amd64" || tag == "unix" })
		without := expr.Eval(func(tag string) bool { return tag == "linux" || tag == "amd64" || tag == "unix" })
		return with && !without, nil
	}
	return false, sc.Err()
}

var (
	testName  = regexp.MustCompile(`^Test([^a-z].*)?$`)
	benchName = regexp.MustCompile(`^Benchmark([^a-z].*)?$`)
)

// testFuncs returns the top-level Test and Benchmark functions a file declares.
func testFuncs(path string) (tests, benches []string, err error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, nil, err
	}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv != nil {
			continue
		}
		switch n := fn.Name.Name; {
		case testName.MatchString(n) && n != "TestMain":
			tests = append(tests, n)
		case benchName.MatchString(n):
			benches = append(benches, n)
		}
	}
	return tests, benches, nil
}

// testBinary is one compiled VM test package.
type testBinary struct {
	vmPackage
	Path string // on the host
	Name string // file name in the guest's /tests
}

// compileTests builds a static test binary per package, two at a time.
func compileTests(ctx context.Context, root, dir string, pkgs []vmPackage) ([]testBinary, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	bins := make([]testBinary, len(pkgs))
	errs := make([]error, len(pkgs))
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for i, p := range pkgs {
		name := strings.NewReplacer("/", "_", ".", "_").Replace(p.ImportPath) + ".test"
		bins[i] = testBinary{vmPackage: p, Path: filepath.Join(dir, name), Name: name}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			cmd := exec.CommandContext(ctx, "go", "test", "-c", "-tags", "vmtest", "-o", bins[i].Path, p.ImportPath)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("go test -c %s: %w: %s", p.ImportPath, err, out)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return bins, nil
}
