// Command report reads `govulncheck -format json` on its standard input and
// says which known vulnerabilities the code calls. It fails when one is in a
// module, which `go get` of its fixed version mends; one in the standard
// library is mended only by a newer Go toolchain, and fails only with
// -stdlib=fail.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
)

type frame struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Package  string `json:"package"`
	Function string `json:"function"`
	Receiver string `json:"receiver"`
}

type message struct {
	OSV *struct {
		ID      string `json:"id"`
		Summary string `json:"summary"`
	} `json:"osv"`
	Finding *struct {
		OSV          string  `json:"osv"`
		FixedVersion string  `json:"fixed_version"`
		Trace        []frame `json:"trace"`
	} `json:"finding"`
}

type called struct {
	id, module, version, fixed, symbol string
}

func main() {
	stdlib := flag.String("stdlib", "warn", "what a called vulnerability of the standard library does: warn or fail")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: govulncheck -format json ./... | report [-stdlib=warn|fail]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *stdlib != "warn" && *stdlib != "fail" {
		fmt.Fprintln(os.Stderr, "report: -stdlib must be warn or fail")
		os.Exit(2)
	}
	summaries, found, err := read(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "report: reading govulncheck's output:", err)
		os.Exit(2)
	}
	failed := false
	for _, c := range found {
		verdict := "FAIL"
		if c.module == "stdlib" && *stdlib == "warn" {
			verdict = "warn"
		} else {
			failed = true
		}
		fmt.Printf("%s %s %s@%s, fixed in %s: %s (called: %s)\n", verdict, c.id, c.module, c.version, c.fixed, summaries[c.id], c.symbol)
	}
	fmt.Printf("%d known vulnerabilities called, %d of them in modules\n", len(found), count(found))
	if failed {
		os.Exit(1)
	}
}

// read returns the summary of each vulnerability and one called symbol of
// each that the code calls, by module, sorted.
func read(r io.Reader) (map[string]string, []called, error) {
	summaries := map[string]string{}
	seen := map[[3]string]called{}
	dec := json.NewDecoder(r)
	for {
		var m message
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		if m.OSV != nil {
			summaries[m.OSV.ID] = m.OSV.Summary
		}
		if m.Finding == nil || len(m.Finding.Trace) == 0 || m.Finding.Trace[0].Function == "" {
			continue // not called: a module or package that is only required or imported
		}
		f := m.Finding.Trace[0]
		key := [3]string{m.Finding.OSV, f.Module, f.Version}
		sym := f.Package + "." + f.Function
		if f.Receiver != "" {
			sym = f.Package + "." + f.Receiver + "." + f.Function
		}
		if c, ok := seen[key]; !ok || sym < c.symbol { // the same one every run
			seen[key] = called{id: m.Finding.OSV, module: f.Module, version: f.Version, fixed: m.Finding.FixedVersion, symbol: sym}
		}
	}
	out := make([]called, 0, len(seen))
	for _, c := range seen {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].module != out[j].module {
			return out[i].module < out[j].module
		}
		return out[i].id < out[j].id
	})
	return summaries, out, nil
}

func count(cs []called) int {
	n := 0
	for _, c := range cs {
		if c.module != "stdlib" {
			n++
		}
	}
	return n
}
