package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func runSurge(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := execute(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestExitCodes(t *testing.T) {
	cases := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"version"}, 0, "surge "},
		{[]string{"profile"}, 0, "as-built"},
		{[]string{"profile", "fixed"}, 0, "waiting-room"},
		{[]string{"profile", "nope"}, 1, ""},
		{[]string{"no-such-command"}, 1, ""},
		{[]string{"version", "--seed", "x"}, 1, ""},
	}
	for _, c := range cases {
		code, out, errs := runSurge(c.args...)
		if code != c.code || !strings.Contains(out, c.out) {
			t.Errorf("surge %v: exit %d, out %q, err %q; want exit %d with %q", c.args, code, out, errs, c.code, c.out)
		}
		if code != 0 && !strings.HasPrefix(errs, "surge: ") {
			t.Errorf("surge %v: failure without a message: %q", c.args, errs)
		}
	}
}

type gateErr struct{}

func (gateErr) Error() string    { return "gate failed: p99 1.2s > 1s" }
func (gateErr) GateFailed() bool { return true }

func TestExitCodeMapping(t *testing.T) {
	if got := exitCode(fmt.Errorf("run lunch: %w", gateErr{})); got != exitNoGo {
		t.Errorf("wrapped gate failure -> %d, want %d", got, exitNoGo)
	}
	if got := exitCode(errors.New("connection refused")); got != exitError {
		t.Errorf("other error -> %d, want %d", got, exitError)
	}
	if got := exitCode(nil); got != exitPass {
		t.Errorf("nil -> %d", got)
	}
}

func TestJSONOutput(t *testing.T) {
	for _, args := range [][]string{{"version", "--json"}, {"profile", "--json"}, {"profile", "as-built", "--json"}} {
		code, out, errs := runSurge(args...)
		var v map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &v) != nil {
			t.Errorf("surge %v: exit %d, output is not one JSON object: %q %q", args, code, out, errs)
		}
	}
}
