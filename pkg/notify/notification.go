// Package notify sends a release's outcomes and its commands to the receivers
// a Secret names: a generic JSON webhook and a Slack-compatible incoming
// webhook (docs/design/2026-12-07-notifications.md).
//
// A Notification is built from a release's status and an operator's words,
// never from a source's data; for a Secret's release it is sent without
// revisions and without the app's words (Withheld).
package notify

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Kind is what happened to a release.
type Kind string

// The kinds of notification, the values of the Secret's events key.
const (
	// Halted: a pod halted the candidate; every pod goes back to stable.
	Halted Kind = "Halted"
	// RolledBack: every pod that can go back runs stable again.
	RolledBack Kind = "RolledBack"
	// Completed: the candidate runs on every pod and is stable.
	Completed Kind = "Completed"
	// Command: an operator's command, carried out or refused.
	Command Kind = "Command"
)

// Kinds are every kind, in the order they are documented.
var Kinds = []Kind{Halted, RolledBack, Completed, Command}

// Source is the ConfigMap or Secret a release is about.
type Source struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// CommandInfo is an operator's command and what it did.
type CommandInfo struct {
	Action string `json:"action"`
	By     string `json:"by"`
	Reason string `json:"reason,omitempty"`
	Done   bool   `json:"done"`
	Result string `json:"result"`
}

// Notification is one outcome of a release, as sent.
type Notification struct {
	Kind      Kind      `json:"kind"`
	Time      time.Time `json:"time"`
	Cluster   string    `json:"cluster,omitempty"`
	Namespace string    `json:"namespace"`
	Source    Source    `json:"source"`
	Release   string    `json:"release"`
	Candidate string    `json:"candidate,omitempty"`
	Stable    string    `json:"stable,omitempty"`
	// Pod and Workload say where a halt happened; Cause is the pod's own
	// words.
	Pod      string `json:"pod,omitempty"`
	Workload string `json:"workload,omitempty"`
	Cause    string `json:"cause,omitempty"`
	// Workloads is how many workloads run a completed candidate;
	// StableAgain says the source went back to the stable revision's
	// content, which every pod goes back to.
	Workloads   int          `json:"workloads,omitempty"`
	StableAgain bool         `json:"stableAgain,omitempty"`
	Command     *CommandInfo `json:"command,omitempty"`
	// Message says it all in one sentence.
	Message string `json:"message"`
}

// secretKind is the source kind whose notifications are withheld.
const secretKind = "Secret"

// revisionLike matches what could be a revision (pkg/revision: 12 hex
// digits) in an operator-facing text.
var revisionLike = regexp.MustCompile(`\b[0-9a-f]{12}\b`)

// Withheld returns n as it may leave the cluster: a Secret's release carries
// no revision (a digest of the Secret's bytes) and no halt cause (the app's
// words, which may quote the config it refused); its texts say where to read
// them. Other releases are returned as they are.
func Withheld(n Notification) Notification {
	if n.Source.Kind != secretKind {
		return n
	}
	n.Candidate, n.Stable, n.Cause = "", "", ""
	if n.Command != nil {
		c := *n.Command
		c.Result = revisionLike.ReplaceAllString(c.Result, "(withheld)")
		n.Command = &c
	}
	return n
}

// withMessage returns n with its Message said from its fields.
func withMessage(n Notification) Notification {
	n.Message = message(n)
	return n
}

// message says n in one sentence, naming revisions only where n has them.
func message(n Notification) string {
	candidate := "the candidate"
	if n.Candidate != "" {
		candidate = "revision " + n.Candidate
	}
	stable := "the stable revision"
	if n.Stable != "" {
		stable = "stable revision " + n.Stable
	}
	switch n.Kind {
	case Halted:
		cause := "the cause is in the pod's Events"
		if n.Cause != "" {
			cause = n.Cause
		}
		return fmt.Sprintf("the release of %s halted at pod %s of %s: %s; every pod goes back to %s", candidate, n.Pod, n.Workload, cause, stable)
	case RolledBack:
		return fmt.Sprintf("every pod that can go back runs %s again, instead of %s", stable, candidate)
	case Completed:
		if n.StableAgain {
			return fmt.Sprintf("the source holds %s again: every pod goes back to it", stable)
		}
		workloads := fmt.Sprintf("%d workloads", n.Workloads)
		if n.Workloads == 1 {
			workloads = "1 workload"
		}
		return fmt.Sprintf("%s runs on every pod of %s; it is the stable revision", capitalized(candidate), workloads)
	case Command:
		if n.Command == nil {
			return ""
		}
		c := n.Command
		s := fmt.Sprintf("%s by %s", c.Action, c.By)
		if c.Reason != "" {
			s += fmt.Sprintf(" (%q)", c.Reason)
		}
		return s + ": " + c.Result
	}
	return string(n.Kind)
}

func capitalized(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// webhookBody is n as the generic JSON receiver gets it.
func webhookBody(n Notification) ([]byte, error) {
	return json.Marshal(n)
}

// slackBody is n as a Slack-compatible incoming webhook gets it: one line of
// text, Slack's control characters escaped.
func slackBody(n Notification) ([]byte, error) {
	where := fmt.Sprintf("%s %s/%s", n.Source.Kind, n.Namespace, n.Source.Name)
	if n.Cluster != "" {
		where = n.Cluster + ": " + where
	}
	text := fmt.Sprintf("%s hotreload %s — %s: %s", slackIcon[n.Kind], where, n.Kind, n.Message)
	return json.Marshal(struct {
		Text string `json:"text"`
	}{slackEscape(text)})
}

var slackIcon = map[Kind]string{Halted: ":red_circle:", RolledBack: ":leftwards_arrow_with_hook:", Completed: ":large_green_circle:", Command: ":keyboard:"}

// slackEscape escapes what Slack reads as markup in a message's text.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
