//go:build tools

// Package tools pins govulncheck and the vulnerability database's indexer.
package tools

import (
	_ "golang.org/x/vuln/cmd/govulncheck"
	_ "golang.org/x/vulndb/cmd/indexdb"
)
