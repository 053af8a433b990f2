package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestLivePage: surge run --ui-listen serves the run's report as it runs,
// redrawn from the engine: marked live, its title not a verdict, its
// figures growing from one look to the next; once the run is written the
// same address serves report.html byte for byte.
func TestLivePage(t *testing.T) {
	if testing.Short() {
		t.Skip("a 10 s run")
	}
	dir := t.TempDir()
	addr := freePort(t)
	done := make(chan int, 1)
	go func() {
		code, _, _ := runSurge("run", "../../scenarios/smoke.yaml", "--out", filepath.Join(dir, "run"), "--compression", "1.5",
			"--ui-listen", addr, "--ui-linger", "5s", "--quiet")
		done <- code
	}()
	offered := regexp.MustCompile(`<tr><td>qr</td><td>(\d+)</td>`)
	look := func() (string, int) {
		resp, err := http.Get("http://" + addr + "/report")
		if err != nil {
			return "", -1
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		n := -1
		if m := offered.FindSubmatch(b); m != nil {
			n, _ = strconv.Atoi(string(m[1]))
		}
		return string(b), n
	}
	var first, second int
	deadline := time.Now().Add(20 * time.Second)
	for first <= 0 && time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		page, n := look()
		if strings.Contains(page, `name="surge-live"`) {
			first = n
			if !strings.Contains(page, "<title>surge (live, ") || !strings.Contains(page, "Live: in progress (") || !strings.Contains(page, `class="banner `) || !strings.Contains(page, ">So far ") {
				t.Errorf("a live drawing without its live title and banner:\n%.600s", page)
			}
		}
	}
	page, second := look()
	for deadline := time.Now().Add(8 * time.Second); second <= first && time.Now().Before(deadline); { // redrawn each second, or each 3 s at most when drawing is dear (uiSlowest)
		time.Sleep(500 * time.Millisecond)
		page, second = look()
	}
	if first <= 0 || !strings.Contains(page, `name="surge-live"`) || second <= first {
		t.Errorf("the live page's qr offered went %d then %d; want a live page whose figures grow", first, second)
	}
	shell, _ := http.Get("http://" + addr + "/")
	if shell == nil || shell.StatusCode != 200 {
		t.Error("no outer page at /")
	}
	final := page
	for deadline := time.Now().Add(40 * time.Second); strings.Contains(final, `name="surge-live"`) && time.Now().Before(deadline); {
		time.Sleep(300 * time.Millisecond) // the run ends, is written, and the page becomes its report (served for --ui-linger)
		final, _ = look()
	}
	kept, err := os.ReadFile(filepath.Join(dir, "run", "report.html"))
	if err != nil || !bytes.Equal([]byte(final), kept) {
		t.Errorf("after the run the page is not report.html (%d vs %d bytes, %v)", len(final), len(kept), err)
	}
	if code := <-done; code != 0 {
		t.Fatalf("the run: exit %d", code)
	}
}

// TestLivePageBadInput: a busy port, or an address off loopback without a
// token, is an error before any load; off loopback with one, a request
// without it is refused.
func TestLivePageBadInput(t *testing.T) {
	busy := freePort(t)
	ln, err := net.Listen("tcp", busy)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--ui-listen", busy}, "--ui-listen"},
		{[]string{"--ui-listen", "0.0.0.0:0"}, "needs a token of at least 16 characters in $SURGE_UI_TOKEN"},
	} {
		os.Unsetenv("SURGE_UI_TOKEN")
		start := time.Now()
		code, out, errs := runSurge(append([]string{"run", "../../scenarios/smoke.yaml", "--out", t.TempDir()}, c.args...)...)
		if code != 1 || !strings.Contains(errs, c.want) || time.Since(start) > 5*time.Second {
			t.Errorf("%v: exit %d after %v, want 1 with %q at once\n%s%s", c.args, code, time.Since(start), c.want, out, errs)
		}
	}
	u, err := startUI(uiOptions{listen: "0.0.0.0:0"}, "t", nil, io.Discard)
	if err == nil {
		u.srv.Close()
		t.Fatal("off loopback without a token: started")
	}
	t.Setenv("SURGE_UI_TOKEN", "0123456789abcdef0123")
	var sink bytes.Buffer
	u, err = startUI(uiOptions{listen: "0.0.0.0:0"}, "t", nil, &sink) // (reached on loopback below)
	if err != nil {
		t.Fatal(err)
	}
	defer u.srv.Close()
	base := strings.Replace(strings.TrimSuffix(u.url, "?token=0123456789abcdef0123"), "0.0.0.0", "127.0.0.1", 1)
	if resp, err := http.Get(base + "report"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a request without the token: %v %v, want 401", resp, err)
	}
	if !strings.Contains(sink.String(), "?token=0123456789abcdef0123") {
		t.Errorf("the page's address with its token is printed once to the terminal: %q", sink.String())
	}
}

// TestCapacityLivePage: surge capacity --ui-listen shows the search as it
// goes, step by step on the capacity page (SEARCHING, no verdict yet),
// and then serves the capacity directory's report.html.
func TestCapacityLivePage(t *testing.T) {
	if testing.Short() {
		t.Skip("a search of seconds")
	}
	srv := fourWorkers(t)
	dir := filepath.Join(t.TempDir(), "cap")
	addr := freePort(t)
	done := make(chan int, 1)
	go func() {
		code, _, _ := runSurge("capacity", oneRequest(t, srv.URL, "hit p99 <= 100ms"), "--start", "100", "--min-step", "2s", "--warmup", "1s", "--budget", "30s", "--max", "400",
			"--out", dir, "--ui-listen", addr, "--ui-linger", "5s", "--quiet")
		done <- code
	}()
	played := regexp.MustCompile(`steps played: (\d+)`)
	most, page := 0, ""
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/report")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page = string(b)
		if !strings.Contains(page, `name="surge-live"`) {
			break // the final page
		}
		if m := played.FindStringSubmatch(page); m != nil {
			n, _ := strconv.Atoi(m[1])
			most = max(most, n)
			if !strings.Contains(page, ">SEARCHING: capacity of mine") {
				t.Errorf("a live capacity page without SEARCHING in its banner")
			}
		}
	}
	// (how many steps the budget holds depends on the machine: at 100/s and
	// up a step is its 2 s, but the race detector slows the load)
	t.Logf("the live page showed up to %d steps played before the final page", most)
	if most < 1 {
		t.Errorf("the live page showed no step played while the search went on, want the steps as they came")
	}
	kept, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil || page != string(kept) {
		t.Errorf("after the search the page is not the capacity report.html (%d vs %d bytes, %v)", len(page), len(kept), err)
	}
	if code := <-done; code != 0 {
		t.Errorf("the search: exit %d", code)
	}
}

// TestMergeLivePage: surge merge --wait --ui-listen shows the shards as
// they arrive (a partial run, "k of n shards written"), then becomes the
// merged run's report.html; --open hands the page's address to $BROWSER.
func TestMergeLivePage(t *testing.T) {
	staged := shardDirs(t, 3, 2000, 2*time.Minute)
	parent, out := t.TempDir(), filepath.Join(t.TempDir(), "merged")
	arrive := func(i int) {
		name := "shard-" + strconv.Itoa(i)
		if err := os.Rename(filepath.Join(staged, name), filepath.Join(parent, name)); err != nil {
			t.Fatal(err)
		}
	}
	opened := filepath.Join(t.TempDir(), "opened")
	browser := filepath.Join(t.TempDir(), "browser.sh")
	os.WriteFile(browser, []byte("#!/bin/sh\necho \"$1\" > "+opened+"\n"), 0o755)
	t.Setenv("BROWSER", browser)
	addr := freePort(t)
	arrive(0)
	done := make(chan int, 1)
	go func() {
		code, _, _ := runSurge("merge", parent, "--out", out, "--wait", "60s", "--ui-listen", addr, "--open", "--ui-linger", "3s")
		done <- code
	}()
	look := func(want string) string {
		var page string
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if resp, err := http.Get("http://" + addr + "/report"); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if page = string(b); strings.Contains(page, want) {
					return page
				}
			}
		}
		t.Fatalf("the merge's live page never said %q:\n%.800s", want, page)
		return ""
	}
	page := look("1 of 3 shards written")
	if !strings.Contains(page, `name="surge-live"`) || !strings.Contains(page, "merged from 1 of 3 shards") {
		t.Errorf("the first shard's page is not a live partial run:\n%.800s", page)
	}
	arrive(1)
	look("2 of 3 shards written")
	arrive(2)
	look("merged from 3 shards")
	var final string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if final = look("merged from 3 shards"); !strings.Contains(final, `name="surge-live"`) {
			break // the merge is written: the page is its report (served for --ui-linger)
		}
	}
	if code := <-done; code == 1 {
		t.Fatalf("the merge: exit %d", code)
	}
	kept, err := os.ReadFile(filepath.Join(out, "report.html"))
	if err != nil || final != string(kept) || strings.Contains(final, `name="surge-live"`) {
		t.Errorf("the page at the end is not the merged report.html (%v)", err)
	}
	if b, _ := os.ReadFile(opened); strings.TrimSpace(string(b)) != "http://"+addr+"/" {
		t.Errorf("--open gave $BROWSER %q, want the page's address", b)
	}
}

// The page is redrawn each second while a drawing is cheap beside what the
// run spends, later when it is not, and never later than uiSlowest.
func TestLivePageBudget(t *testing.T) {
	at := time.Unix(1000, 0)
	u := &liveUI{drawn: at, cpu: 10 * time.Second}
	cases := []struct {
		took, cpu time.Duration // the last drawing's CPU; the process's CPU since it
		since     time.Duration
		due       bool
	}{
		{2 * time.Millisecond, 160 * time.Millisecond, 500 * time.Millisecond, false}, // never within a second
		{2 * time.Millisecond, 160 * time.Millisecond, time.Second, true},             // cheap: each second
		{9 * time.Millisecond, 160 * time.Millisecond, time.Second, false},            // 5.6% of the run's CPU
		{9 * time.Millisecond, 450 * time.Millisecond, 2800 * time.Millisecond, true}, // 2% of it
		{9 * time.Millisecond, 10 * time.Millisecond, 1800 * time.Millisecond, true},  // an idle run: half a percent of a core
		{900 * time.Millisecond, time.Second, 3 * time.Second, true},                  // never later than uiSlowest
	}
	for _, c := range cases {
		u.took = c.took
		if got := u.due(at.Add(c.since), u.cpu+c.cpu); got != c.due {
			t.Errorf("drawing %v, run %v CPU in %v: due %v, want %v", c.took, c.cpu, c.since, got, c.due)
		}
	}
}
