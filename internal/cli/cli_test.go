package cli

import (
	"bytes"
	"context"
	"flag"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMainRunsSubcommands(t *testing.T) {
	var got []string
	cmds := []Command{
		{Name: "ok", Short: "succeeds", Run: func(_ context.Context, fs *flag.FlagSet, args []string) error {
			name := fs.String("name", "", "a name")
			if err := Parse(fs, args, "[--name N]", "Records its name."); err != nil {
				return err
			}
			got = append(got, *name)
			return nil
		}},
		{Name: "todo", Short: "not built", Run: NotImplemented("", "Does nothing yet.")},
	}
	tests := []struct {
		name     string
		args     []string
		code     int
		contains string
		ran      []string
	}{
		{"prints the command list and fails without a command", nil, 2, "  ok         succeeds\n  todo       not built\n", nil},
		{"prints the command list for --help and succeeds", []string{"--help"}, 0, "Run 'prog <command> --help'", nil},
		{"runs the named command with its flags", []string{"ok", "--name", "web"}, 0, "", []string{"web"}},
		{"prints a command's usage for its --help", []string{"ok", "--help"}, 0, "Usage:\n  prog ok [--name N]\n\nRecords its name.\n\nFlags:\n  -name string", nil},
		{"rejects an unknown flag as a usage error", []string{"ok", "--nope"}, 2, "flag provided but not defined: -nope", nil},
		{"rejects an unknown command", []string{"frobnicate"}, 2, `prog: unknown command "frobnicate"`, nil},
		{"fails a command that is not built yet, saying so", []string{"todo"}, 1, "prog todo: not implemented\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = nil
			var stderr bytes.Buffer
			code := Main(context.Background(), "prog", "prog does things.", cmds, tt.args, &stderr)
			assert.Equal(t, tt.code, code)
			assert.Contains(t, stderr.String(), tt.contains)
			assert.Equal(t, tt.ran, got)
		})
	}
}
