package notify

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// The keys of the notifications Secret.
const (
	KeyWebhookURL           = "webhook-url"
	KeyWebhookAuthorization = "webhook-authorization"
	KeySlackURL             = "slack-url"
	KeyEvents               = "events"
	KeyCluster              = "cluster"
	KeyCA                   = "ca.crt"
)

// Sink is a kind of receiver.
type Sink string

const (
	// Webhook receives each Notification as a JSON object.
	Webhook Sink = "webhook"
	// Slack receives a Slack-compatible {"text": …}.
	Slack Sink = "slack"
)

// Sinks are every kind of receiver.
var Sinks = []Sink{Webhook, Slack}

// Endpoint is where one sink sends.
type Endpoint struct {
	URL           string
	Authorization string
}

// Config is what the notifications Secret says.
type Config struct {
	Endpoints map[Sink]Endpoint
	// Kinds are the kinds to send; every kind when empty.
	Kinds   []Kind
	Cluster string
	// Client sends the requests: the Secret's ca.crt as roots, else the
	// public ones.
	Client *http.Client
}

// sends reports whether c sends notifications of kind k to sink s.
func (c Config) sends(s Sink, k Kind) bool {
	if _, ok := c.Endpoints[s]; !ok {
		return false
	}
	return len(c.Kinds) == 0 || slices.Contains(c.Kinds, k)
}

// sendTimeout bounds each request to a receiver.
const sendTimeout = 10 * time.Second

// ParseConfig reads the notifications Secret's data. An error says which key
// is wrong and why; its text never holds a value.
func ParseConfig(data map[string][]byte) (Config, error) {
	c := Config{Endpoints: map[Sink]Endpoint{}, Cluster: strings.TrimSpace(string(data[KeyCluster]))}
	for _, e := range []struct {
		sink      Sink
		key, auth string
	}{{Webhook, KeyWebhookURL, KeyWebhookAuthorization}, {Slack, KeySlackURL, ""}} {
		raw, ok := data[e.key]
		if !ok {
			continue
		}
		u := strings.TrimSpace(string(raw))
		if err := checkURL(u); err != nil {
			return Config{}, fmt.Errorf("key %s: %w", e.key, err)
		}
		ep := Endpoint{URL: u}
		if e.auth != "" {
			ep.Authorization = strings.TrimSpace(string(data[e.auth]))
		}
		c.Endpoints[e.sink] = ep
	}
	if len(c.Endpoints) == 0 {
		return Config{}, fmt.Errorf("neither %s nor %s is set: nothing to send to", KeyWebhookURL, KeySlackURL)
	}
	if raw, ok := data[KeyEvents]; ok {
		for f := range strings.SplitSeq(string(raw), ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				continue
			}
			if !slices.Contains(Kinds, Kind(f)) {
				return Config{}, fmt.Errorf("key %s: %q is not one of %v", KeyEvents, f, Kinds)
			}
			c.Kinds = append(c.Kinds, Kind(f))
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // a receiver is reached directly, as the API server is
	if pem, ok := data[KeyCA]; ok {
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return Config{}, fmt.Errorf("key %s: no PEM certificate", KeyCA)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	c.Client = &http.Client{Transport: tr, Timeout: sendTimeout,
		// A receiver that redirects is not followed: the request carries
		// credentials, and a redirect could send them elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return c, nil
}

// checkURL accepts an absolute http or https URL with a host. Its errors do
// not quote the URL, which can hold a credential (a Slack webhook's path).
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("want an http:// or https:// URL")
	}
	if u.Host == "" {
		return fmt.Errorf("the URL has no host")
	}
	return nil
}
