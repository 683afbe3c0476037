// Command demoapp is the end-to-end tests' application: it reads a config file
// at start and again on SIGHUP, and serves what it runs with, so a test can ask
// a pod which config it has applied, and whether it restarted to get it. It can
// also be told to reload over HTTP (POST /reload), or watch its file itself
// (--watch, for hotreload/signal: none).
//
//	GET /        the config's content, as last loaded
//	GET /healthz "ok", or 503 while the config it runs contains the --unready-on
//	             string (a config the app runs but cannot serve well with)
//	POST /reload reads the config again: 200, or 500 with the error (the
//	             previous config is kept)
//	GET /env     the --env variables, NAME=value a line, as read at start
//	GET /status  JSON: pid, start time, number of loads and of reloads by cause
//	             (SIGHUP, POST /reload, --watch), last load time and error
//	GET /whoami  asks the API server, through the `kubernetes` Service and with the
//	             pod's service-account token, who the pod is (a SelfSubjectReview):
//	             200 with the review, 502 when the API server refuses or cannot be reached
//	GET /resolve?name=N  the addresses N resolves to in the pod (cluster DNS), one a line
//	PUT /fault   from now on, refuse every new config as a --fail-on one (a
//	             fault outside the config: a full disk, a lost dependency);
//	             DELETE /fault ends it, and so does a restart
//
// A config containing the --fail-on string (when set) is refused: at start the
// app exits 1; on SIGHUP or a change --watch sees it exits 1 too, as a server
// that crashes on a bad config does, so tests can prove a bad rollout halts.
// POST /reload answers 500 instead, as an admin endpoint does.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

type state struct {
	mu       sync.Mutex
	path     string
	failOn   string
	fault    bool
	content  []byte
	loads    int
	loadedAt time.Time
	lastErr  string
	started  time.Time
	// reloads by cause, after the first load
	sighups, posts, watched int
}

var errRefused = errors.New("config refused")

func (s *state) load() error {
	b, err := os.ReadFile(s.path)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.lastErr = err.Error()
		return err
	}
	if s.fault && s.loads > 0 {
		s.lastErr = "a fault outside the config"
		return fmt.Errorf("%w: a fault outside the config", errRefused)
	}
	if s.failOn != "" && strings.Contains(string(b), s.failOn) {
		s.lastErr = fmt.Sprintf("config contains %q", s.failOn)
		return fmt.Errorf("%w: contains %q", errRefused, s.failOn)
	}
	s.content, s.loads, s.loadedAt, s.lastErr = b, s.loads+1, time.Now(), ""
	return nil
}

// changed reports whether the file's content differs from the config last
// loaded.
func (s *state) changed() bool {
	b, err := os.ReadFile(s.path)
	if err != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return !bytes.Equal(b, s.content)
}

func (s *state) count(n *int) {
	s.mu.Lock()
	*n++
	s.mu.Unlock()
}

func main() {
	s := &state{started: time.Now()}
	flag.StringVar(&s.path, "config", "/etc/demoapp/config", "config file to serve")
	flag.StringVar(&s.failOn, "fail-on", "", "exit 1 when the config contains this string")
	unreadyOn := flag.String("unready-on", "", "answer /healthz with 503 while the config it runs contains this string (it serves it all the same)")
	addr := flag.String("addr", ":8080", "listen address")
	watch := flag.Duration("watch", 0, "also read the config again when its content changes, checked at this interval (0: only on SIGHUP or POST /reload)")
	envNames := flag.String("env", "", "comma-separated environment variables served at GET /env (NAME=value lines), and refused at start, as the config is, when one contains the --fail-on string")
	flag.Parse()

	env := envOf(*envNames)
	if s.failOn != "" && strings.Contains(env, s.failOn) {
		log.Fatalf("demoapp: environment refused: contains %q", s.failOn)
	}

	if err := s.load(); err != nil {
		log.Fatalf("demoapp: load %s: %v", s.path, err)
	}
	log.Printf("demoapp: loaded %s (%d bytes), serving on %s", s.path, len(s.content), *addr)

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			if err := s.load(); err != nil {
				if errors.Is(err, errRefused) {
					log.Fatalf("demoapp: reload: %v", err)
				}
				log.Printf("demoapp: reload failed, keeping the previous config: %v", err)
				continue
			}
			s.count(&s.sighups)
			log.Printf("demoapp: reloaded %s on SIGHUP", s.path)
		}
	}()
	if *watch > 0 {
		go func() {
			for range time.Tick(*watch) {
				if !s.changed() {
					continue
				}
				if err := s.load(); err != nil {
					if errors.Is(err, errRefused) {
						log.Fatalf("demoapp: reload: %v", err)
					}
					continue
				}
				s.count(&s.watched)
				log.Printf("demoapp: reloaded %s: its content changed", s.path)
			}
		}()
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /env", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, env)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write(s.content)
	})
	mux.HandleFunc("POST /reload", func(w http.ResponseWriter, r *http.Request) {
		if err := s.load(); err != nil {
			log.Printf("demoapp: POST /reload: %v", err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		s.count(&s.posts)
		log.Printf("demoapp: reloaded %s on POST /reload", s.path)
		_, _ = io.WriteString(w, "reloaded\n")
	})
	mux.HandleFunc("PUT /fault", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.fault = true
		s.mu.Unlock()
		log.Printf("demoapp: faulty: new configs are refused")
	})
	mux.HandleFunc("DELETE /fault", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.fault = false
		s.mu.Unlock()
		log.Printf("demoapp: fault cleared")
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		sick := *unreadyOn != "" && bytes.Contains(s.content, []byte(*unreadyOn))
		s.mu.Unlock()
		if sick {
			http.Error(w, "the config makes this app unhealthy", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"pid": os.Getpid(), "started": s.started, "loads": s.loads,
			"sighups": s.sighups, "posts": s.posts, "watched": s.watched,
			"loadedAt": s.loadedAt, "lastError": s.lastErr,
		})
	})
	mux.HandleFunc("/whoami", whoami)
	mux.HandleFunc("/resolve", func(w http.ResponseWriter, r *http.Request) {
		addrs, err := net.DefaultResolver.LookupHost(r.Context(), r.URL.Query().Get("name"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		_, _ = io.WriteString(w, strings.Join(addrs, "\n")+"\n")
	})
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// whoami posts a SelfSubjectReview to the API server the way an in-cluster
// client does: the Service's address from the environment, the mounted token
// and CA. It answers the API server's response, or 502 with the error.
func whoami(w http.ResponseWriter, r *http.Request) {
	const sa = "/var/run/secrets/kubernetes.io/serviceaccount/"
	token, err := os.ReadFile(sa + "token")
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	ca, err := os.ReadFile(sa + "ca.crt")
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
	}
	host := net.JoinHostPort(os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT"))
	body := strings.NewReader(`{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`)
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost,
		"https://"+host+"/apis/authentication.k8s.io/v1/selfsubjectreviews", body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	w.Header().Set("Content-Type", "application/json")
	if resp.StatusCode/100 != 2 {
		w.WriteHeader(http.StatusBadGateway)
	}
	_, _ = io.Copy(w, resp.Body)
}

// envOf returns NAME=value lines of the named environment variables, in the
// order named: what the app read at its start.
func envOf(names string) string {
	var b strings.Builder
	for _, n := range strings.Split(names, ",") {
		if n = strings.TrimSpace(n); n != "" {
			fmt.Fprintf(&b, "%s=%s\n", n, os.Getenv(n))
		}
	}
	return b.String()
}
