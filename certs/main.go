// Command certs generates a CA and a serving certificate for hotreload's webhook,
// for clusters without cert-manager, and the files the deploy/selfsigned overlay
// reads: `go run ./certs --out deploy/selfsigned/certs` (or `make certs`).
//
// It writes only into --out, never overwrites without --force, and keeps no CA key:
// to renew, generate a new bundle and apply the overlay again.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

const usage = `Usage: go run ./certs --out DIR [flags]

Generates an ECDSA P-256 CA and a serving certificate it signs, valid for the
webhook Service's DNS names (<service>.<namespace>.svc and
<service>.<namespace>.svc.<cluster-domain>), and writes into DIR:

  ca.crt               the CA certificate (the webhook's caBundle)
  tls.crt, tls.key     the serving certificate and its key (mode 0600)
  secret.yaml          the kubernetes.io/tls Secret the webhook mounts (mode 0600)
  cabundle-patch.yaml  a JSON 6902 patch setting the webhook configuration's caBundle

deploy/selfsigned reads them from deploy/selfsigned/certs (make certs). Existing
files are not overwritten unless --force is given.

Flags:
`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr, time.Now()); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "certs:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer, now time.Time) error {
	fs := flag.NewFlagSet("certs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	o := Options{Now: now}
	m := Manifest{}
	var out string
	var force bool
	fs.StringVar(&out, "out", "", "directory to write into (required)")
	fs.StringVar(&o.Service, "service", "hotreload-webhook", "name of the webhook's Service")
	fs.StringVar(&o.Namespace, "namespace", "hotreload-system", "namespace of the Service and the Secret")
	fs.StringVar(&o.ClusterDomain, "cluster-domain", "cluster.local", "the cluster's DNS domain")
	fs.StringVar(&m.Secret, "secret", "hotreload-webhook-tls", "name of the TLS Secret")
	fs.DurationVar(&o.Validity, "validity", 365*24*time.Hour, "validity of the serving certificate")
	fs.DurationVar(&o.CAValidity, "ca-validity", 5*365*24*time.Hour, "validity of the CA")
	fs.BoolVar(&force, "force", false, "overwrite existing files")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if out == "" {
		fs.Usage()
		return errors.New("--out is required")
	}
	m.Namespace = o.Namespace
	b, err := Generate(o)
	if err != nil {
		return err
	}
	if err := Write(out, b, m, force); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote a CA and a serving certificate for %v into %s (valid until %s)\n",
		o.DNSNames(), out, now.Add(o.Validity-time.Minute).UTC().Format(time.DateOnly))
	return nil
}
