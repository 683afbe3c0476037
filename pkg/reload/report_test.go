package reload

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/hotreload/hotreload/pkg/annotations"
)

func TestFailedValueIsPrintableText(t *testing.T) {
	const at = "2026-12-07T12:00:00Z"
	t.Run("escapes an app's colours and newlines", func(t *testing.T) {
		assert.Equal(t, `0123456789ab: refused by the app: nginx -t: exit status 1: \x1b[1;31mnginx: [emerg]\x1b[0m unknown directive\n\tin nginx.conf:12 (at 2026-12-07T12:00:00Z)`,
			failedValue("0123456789ab", "refused by the app: nginx -t: exit status 1: \x1b[1;31mnginx: [emerg]\x1b[0m unknown directive\n\tin nginx.conf:12", at))
	})
	t.Run("cuts the escaped reason to the annotation's bound", func(t *testing.T) {
		v := failedValue("0123456789ab", strings.Repeat("\x1b[2J", 1000), at)
		assert.Equal(t, "0123456789ab: "+strings.Repeat(`\x1b[2J`, 128)+`\…`+" (at 2026-12-07T12:00:00Z)", v)
		assert.LessOrEqual(t, len(v), annotations.MaxFailed)
	})
}
