package testenv

import (
	"context"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Webhook says where a test must serve the webhooks it installed.
type Webhook struct {
	// Host and Port to listen on (loopback).
	Host string
	Port int
	// CertDir holds tls.crt and tls.key, signed by the CA the API server trusts
	// for these webhooks.
	CertDir string
}

// InstallWebhooks registers the configurations with the API server, pointing
// every webhook whose clientConfig names a service at a loopback address, and
// removes them when the test ends. A service path must not start with "/":
// envtest joins host and path itself.
func (e *Env) InstallWebhooks(t testing.TB, mutating ...*admissionregistrationv1.MutatingWebhookConfiguration) Webhook {
	t.Helper()
	opts := envtest.WebhookInstallOptions{MutatingWebhooks: mutating, LocalServingHost: "127.0.0.1"}
	if err := opts.Install(e.Config); err != nil {
		t.Fatalf("installing webhooks: %v", err)
	}
	t.Cleanup(func() {
		for _, m := range mutating {
			_ = e.Client.Delete(context.Background(), m)
		}
		_ = opts.Cleanup()
	})
	return Webhook{Host: opts.LocalServingHost, Port: opts.LocalServingPort, CertDir: opts.LocalServingCertDir}
}
