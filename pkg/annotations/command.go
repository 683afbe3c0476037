package annotations

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// Bounds of a command in exec form (hotreload/validate): a longer one is a
// mistake, and it is written into a container's arguments.
const (
	maxCommandArgs  = 64
	maxCommandBytes = 4096
)

// ParseCommand parses a command in exec form: a JSON array of strings such
// as ["nginx","-t"], or words separated by spaces ("nginx -t"). No shell
// reads it: quotes in the words form are not special, so an argument with a
// space needs the JSON form.
func ParseCommand(v string) ([]string, error) {
	v = strings.TrimSpace(v)
	if len(v) > maxCommandBytes {
		return nil, fmt.Errorf("longer than %d bytes", maxCommandBytes)
	}
	var args []string
	if strings.HasPrefix(v, "[") {
		if err := json.Unmarshal([]byte(v), &args); err != nil {
			return nil, errors.New(`not a JSON array of strings, such as ["nginx","-t"]`)
		}
	} else {
		args = strings.Fields(v)
	}
	switch {
	case len(args) == 0:
		return nil, errors.New("no command")
	case len(args) > maxCommandArgs:
		return nil, fmt.Errorf("more than %d arguments", maxCommandArgs)
	case strings.TrimSpace(args[0]) == "":
		return nil, errors.New("the command is blank")
	}
	for _, a := range args {
		if strings.ContainsFunc(a, func(r rune) bool { return r == 0 || unicode.IsControl(r) && r != '\t' }) {
			return nil, fmt.Errorf("argument %q holds a control character", a)
		}
	}
	return args, nil
}

// ValidateOf reads hotreload/validate: the app's check, or nil for none. A
// malformed value is a warning, and no check.
func ValidateOf(pod map[string]string) ([]string, []Warning) {
	v, ok := value(pod, Validate)
	if !ok {
		return nil, nil
	}
	return validateValue(v)
}

// validateValue reads one value of the Validate annotation.
func validateValue(v string) ([]string, []Warning) {
	cmd, err := ParseCommand(v)
	if err != nil {
		return nil, []Warning{{Key: Validate, Value: v, Problem: "invalid command", Detail: err.Error(), Used: "no validation"}}
	}
	return cmd, nil
}
