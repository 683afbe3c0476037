package main

import (
	"strings"
	"testing"
)

// govulncheck's stream: a vulnerability's record, then its findings at module,
// package and symbol level; only a symbol (a function) is a called one.
const stream = `{"config":{"protocol_version":"v1.0.0"}}
{"osv":{"id":"GO-2026-0001","summary":"a bug in x/net"}}
{"osv":{"id":"GO-2026-0002","summary":"a bug in net/http"}}
{"osv":{"id":"GO-2026-0003","summary":"a bug never called"}}
{"finding":{"osv":"GO-2026-0003","fixed_version":"v0.2.0","trace":[{"module":"example.com/m","version":"v0.1.0"}]}}
{"finding":{"osv":"GO-2026-0003","fixed_version":"v0.2.0","trace":[{"module":"example.com/m","version":"v0.1.0","package":"example.com/m/p"}]}}
{"finding":{"osv":"GO-2026-0002","fixed_version":"v1.26.9","trace":[{"module":"stdlib","version":"v1.26.8","package":"net/http","function":"Get"}]}}
{"finding":{"osv":"GO-2026-0001","fixed_version":"v0.60.0","trace":[{"module":"golang.org/x/net","version":"v0.57.0","package":"golang.org/x/net/http2","receiver":"*Transport","function":"RoundTrip"}]}}
{"finding":{"osv":"GO-2026-0001","fixed_version":"v0.60.0","trace":[{"module":"golang.org/x/net","version":"v0.57.0","package":"golang.org/x/net/http2","receiver":"*Transport","function":"NewClientConn"}]}}
`

func TestReadKeepsTheCalledVulnerabilitiesOnce(t *testing.T) {
	summaries, found, err := read(strings.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	want := []called{
		{id: "GO-2026-0001", module: "golang.org/x/net", version: "v0.57.0", fixed: "v0.60.0", symbol: "golang.org/x/net/http2.*Transport.NewClientConn"},
		{id: "GO-2026-0002", module: "stdlib", version: "v1.26.8", fixed: "v1.26.9", symbol: "net/http.Get"},
	}
	if len(found) != len(want) {
		t.Fatalf("found %+v, want %+v", found, want)
	}
	for i := range want {
		if found[i] != want[i] {
			t.Errorf("found[%d] = %+v, want %+v", i, found[i], want[i])
		}
	}
	if summaries["GO-2026-0001"] != "a bug in x/net" || count(found) != 1 {
		t.Errorf("summaries %v, %d in modules", summaries, count(found))
	}
}

func TestReadRefusesWhatIsNotGovulncheckJSON(t *testing.T) {
	if _, _, err := read(strings.NewReader("Scanning your code...\n")); err == nil {
		t.Fatal("text read as JSON")
	}
}
