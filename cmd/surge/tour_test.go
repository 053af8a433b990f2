package main

import (
	"bufio"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/surgekit/surge/reference-server/profiles"
	"github.com/surgekit/surge/reference-server/refserver"
	"github.com/surgekit/surge/scenarios/results"
)

// tourLine is one command of the README's tour.
type tourLine struct {
	text string   // as written
	args []string // after the command's name
	exit int      // the exit code its comment states ("exit 2"), else 0
}

var exitRE = regexp.MustCompile(`\bexit (\d)\b`)

// readTour reads the README's "A short tour" block.
func readTour(t *testing.T) []tourLine {
	t.Helper()
	f, err := os.Open("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []tourLine
	sc := bufio.NewScanner(f)
	in, started := false, false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## A short tour"):
			started = true
		case started && !in && line == "```sh":
			in = true
		case in && line == "```":
			return out
		case in && strings.TrimSpace(line) != "":
			cmd, comment, _ := strings.Cut(line, " # ")
			tl := tourLine{text: strings.TrimSpace(cmd), args: shellWords(strings.TrimSpace(cmd))}
			if m := exitRE.FindStringSubmatch(comment); m != nil {
				tl.exit, _ = strconv.Atoi(m[1])
			}
			out = append(out, tl)
		}
	}
	t.Fatal("README.md has no tour block")
	return nil
}

// shellWords splits a command line as a shell does for these commands:
// spaces, single quotes.
func shellWords(s string) []string {
	var out []string
	var b strings.Builder
	quoted, any := false, false
	for _, r := range s {
		switch {
		case r == '\'':
			quoted, any = !quoted, true
		case r == ' ' && !quoted:
			if any {
				out = append(out, b.String())
			}
			b.Reset()
			any = false
		default:
			b.WriteRune(r)
			any = true
		}
	}
	if any {
		out = append(out, b.String())
	}
	return out
}

// TestTheTourRunsAsWritten runs every command of the README's tour, in
// order, from a scratch directory that sees the repository's scenarios,
// and checks each exits as its comment says. What it changes, it changes
// to bound the time (and says so here): replays run at 120x compression
// with a minute's drain, the national simulation at 1/20 of the country,
// the chaos proxy for a second, and the addresses the tour gives (8080,
// 9000) become free ports. The replays' run directories then pass the
// checks of the incident they replay: the smoke run succeeds at every
// request, the go-live lunch collapses on as-built (with the anchor as
// the bottleneck the simulator and the plan name) and holds on fixed.
func TestTheTourRunsAsWritten(t *testing.T) {
	if testing.Short() {
		t.Skip("the tour's replays take minutes")
	}
	t.Parallel()
	lines := readTour(t)
	if len(lines) < 15 {
		t.Fatalf("the tour has %d commands", len(lines))
	}
	work := t.TempDir()
	repo, _ := filepath.Abs("../..")
	addr := map[string]string{"127.0.0.1:9000": freePort(t)}
	// The replays go on in the background, all at once (five, at 1/50 scale: a few hundred requests a second in all); the other
	// lines run in order meanwhile, but a report waits for the replays.
	var runs sync.WaitGroup
	slots := make(chan struct{}, 5)
	token := ""
	for _, tl := range lines {
		mapped := map[string]string{}
		for k, v := range addr {
			mapped[k] = v
		}
		switch {
		case strings.HasPrefix(tl.text, "go build"):
		case strings.HasPrefix(tl.text, "export SURGE_ADMIN_TOKEN="):
			token = refserver.NewAdminToken() // what the shell would make; given to the server and to surge's lines as the environment would
		case strings.HasPrefix(tl.text, "go run ./reference-server"):
			addr["127.0.0.1:8080"] = startReferenceServer(t, tl.args, token)
		case strings.HasPrefix(tl.text, "./surge run "):
			if token != "" && strings.Contains(tl.text, "--target") {
				tl.args = append(tl.args, "--admin-token", token)
			}
			runs.Go(func() {
				slots <- struct{}{}
				defer func() { <-slots }()
				runTourLine(t, tl, repo, work, mapped)
			})
		case strings.HasPrefix(tl.text, "./surge report "):
			runs.Wait()
			runTourLine(t, tl, repo, work, mapped)
		default:
			runTourLine(t, tl, repo, work, mapped)
		}
	}
	runs.Wait()
	checkTourRuns(t, work)
}

// runTourLine runs one ./surge line in-process, its paths and addresses
// mapped and its time bounded.
func runTourLine(t *testing.T, tl tourLine, repo, work string, addr map[string]string) {
	words := tl.args
	if len(words) == 0 || words[0] != "./surge" {
		t.Errorf("tour line %q: not a ./surge command", tl.text)
		return
	}
	var args []string
	stdout := ""
	for i := 1; i < len(words); i++ {
		w := words[i]
		for from, to := range addr {
			w = strings.ReplaceAll(w, from, to)
		}
		switch {
		case w == ">" && i+1 < len(words):
			stdout = filepath.Join(work, words[i+1])
			i++
			continue
		case strings.HasPrefix(w, "scenarios/"):
			matches, _ := filepath.Glob(filepath.Join(repo, w))
			if len(matches) == 0 {
				t.Errorf("tour line %q: %s names no file", tl.text, w)
				return
			}
			args = append(args, matches...)
			continue
		case strings.HasPrefix(w, "runs/") || w == "gate.xml" || w == "review.html":
			w = filepath.Join(work, w)
		}
		args = append(args, w)
	}
	args = bound(args)
	var out, errb strings.Builder
	start := time.Now()
	code := execute(context.Background(), args, &out, &errb)
	t.Logf("%v: %s", time.Since(start).Round(time.Second), tl.text)
	if stdout != "" {
		os.WriteFile(stdout, []byte(out.String()), 0o644)
	}
	if code != tl.exit {
		t.Errorf("tour: %s\nexit %d, the README says %d\n%s\n%s", tl.text, code, tl.exit, tail(out.String()), tail(errb.String()))
	}
}

// bound shortens what the tour runs (see TestTheTourRunsAsWritten).
func bound(args []string) []string {
	has := func(flag string) bool {
		for _, a := range args {
			if a == flag {
				return true
			}
		}
		return false
	}
	switch args[0] {
	case "run":
		if !strings.HasSuffix(args[1], "smoke.yaml") && !has("--compression") {
			args = append(args, "--compression", "120")
		}
		args = append(args, "--drain", "60s", "--quiet")
	case "sim":
		for i, a := range args {
			if a == "--scale" && args[i+1] == "1" {
				args[i+1] = "0.05"
			}
		}
		args = append(args, "--quiet")
	case "chaos":
		args = append(args, "--duration", "1s")
	}
	return args
}

// startReferenceServer starts what the tour's `go run ./reference-server`
// line does, in-process on a free loopback port.
func startReferenceServer(t *testing.T, words []string, token string) string {
	profile := "as-built"
	for i, w := range words {
		if w == "--profile" {
			profile = words[i+1]
		}
	}
	p, err := profiles.Load(profile)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := refserver.Start(refserver.Config{Profile: p, Seed: 1, AdminToken: token, Logger: slog.New(slog.DiscardHandler)}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return strings.TrimPrefix(srv.URL, "http://")
}

// checkTourRuns checks the replays' run directories against the incident.
func checkTourRuns(t *testing.T, work string) {
	read := func(name string) *results.Run {
		r, err := results.ReadFile(filepath.Join(work, "runs", name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return r
	}
	smoke := read("smoke")
	for _, name := range []string{"identity.request", "identity.confirm", "certificate.issue", "qr", "checkin"} {
		if e := smoke.Endpoints[name]; e == nil || e.Total.Succeeded == 0 {
			t.Errorf("smoke never succeeded at %s", name)
		}
	}
	asBuilt := read("first-download")
	issue, checkin := asBuilt.Endpoints["certificate.issue"].Total, asBuilt.Endpoints["checkin"].Total
	if issue.ErrorRate() < 0.10 || checkin.ErrorRate() < 0.10 || asBuilt.RetryAmplification() < 1.5 {
		t.Errorf("as-built: ISSUE errors %.2f, CHECKIN errors %.2f (it shares kdca with ISSUE), amplification %.2f; want the collapse",
			issue.ErrorRate(), checkin.ErrorRate(), asBuilt.RetryAmplification())
	}
	checkStageFigures(t, filepath.Join(work, "runs", "first-download"), "as-built")
	fixed := read("first-download-fixed")
	for _, name := range []string{"certificate.issue", "qr", "checkin"} {
		if e := fixed.Endpoints[name].Total; e.ErrorRate() > 0.01 {
			t.Errorf("%s error rate %.3f under fixed, want < 1%%", name, e.ErrorRate())
		}
	}
	if amp := fixed.RetryAmplification(); amp > 1.1 {
		t.Errorf("retry amplification %.2f under fixed", amp)
	}
	checkStageFigures(t, filepath.Join(work, "runs", "first-download-fixed"), "fixed")
	if b, err := os.ReadFile(filepath.Join(work, "review.html")); err != nil || !strings.Contains(string(b), "Prediction vs measurement") {
		t.Errorf("review.html: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(work, "surge.schema.json")); err != nil || !strings.Contains(string(b), `"$schema"`) {
		t.Errorf("surge.schema.json: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(work, "gate.xml")); err != nil || !strings.Contains(string(b), "<testsuite") {
		t.Errorf("gate.xml: %v", err)
	}
}

func tail(s string) string {
	if len(s) > 3000 {
		return "..." + s[len(s)-3000:]
	}
	return s
}
