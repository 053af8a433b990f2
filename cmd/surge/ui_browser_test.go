package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/surgekit/surge/ci/browser"
)

// frontChart is, in the live page's visible frame, the first chart's
// points and the frame's title and liveness.
const frontChart = `(() => {
	const f = [...document.querySelectorAll('iframe')].find(x => x.style.visibility !== 'hidden');
	const w = f && f.contentWindow;
	if (!w || !w.document || !w.echarts) return {points: -1, title: '', live: false};
	const el = w.document.querySelector('div.item');
	const inst = el && w.echarts.getInstanceByDom(el);
	let points = 0, shaded = 0;
	if (inst) for (const s of inst.getOption().series || []) {
		points += (s.data || []).length;
		shaded += ((s.markArea || {}).data || []).length;
	}
	const gate = w.document.querySelector('#gate + table, #gate ~ table');
	return {points, shaded, title: w.document.title, live: !!w.document.querySelector('meta[name="surge-live"]'),
		gate: gate ? gate.innerText : '', banner: (w.document.querySelector('#verdict') || {}).innerText || ''};
})()`

type frontState struct {
	Points int    `json:"points"`
	Shaded int    `json:"shaded"` // fault windows shaded on the first chart
	Title  string `json:"title"`
	Live   bool   `json:"live"`
	Gate   string `json:"gate"` // the gate's clause table, as shown
	Banner string `json:"banner"`
}

// smokeWithSlowCheckin is smoke.yaml with kdca answering in about 3 s from
// 3 s to 8 s played: the QRs and checkins (both visit kdca) then break
// their 2 s p99 clauses.
func smokeWithSlowCheckin(t *testing.T) string {
	raw, err := os.ReadFile("../../scenarios/smoke.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "smoke-slow.yaml")
	fault := "\nfaults:\n  - {name: slow-kdca, at: \"12:00:03\", for: 5s, kind: latency, stage: kdca, latency: \"3s\"}\n"
	if err := os.WriteFile(path, append(raw, fault...), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLivePageInChromium: headless Chromium watches a run's live page, a
// run with a fault on its timeline: its charts grow while the run plays
// (two screenshots, the second with more drawn), the fault's window is
// shaded while it is on, the gate's table turns FAIL once the checkins
// break their clause, it asks nothing of any address but the page's, and
// when the run is written it shows the final report (NO-GO), no longer
// live, the same figures as report.html.
// SURGE_SCREENSHOTS=DIR keeps the screenshots.
func TestLivePageInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("a 15 s run in a browser")
	}
	bin := browser.Chromium(t)
	dir := t.TempDir()
	addr := freePort(t)
	done := make(chan int, 1)
	go func() {
		code, _, _ := runSurge("run", smokeWithSlowCheckin(t), "--out", filepath.Join(dir, "run"), "--ui-listen", addr, "--ui-linger", "8s", "--quiet")
		done <- code
	}()
	waitListening(t, addr)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 1000))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	var mu sync.Mutex
	var elsewhere []string
	err := chromedp.Listen(bctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && !strings.HasPrefix(e.Request.URL, "http://"+addr+"/") {
			mu.Lock()
			elsewhere = append(elsewhere, e.Request.URL)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	if _, err := chromedp.Call(bctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate("http://"+addr+"/")); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	look := func() (frontState, []byte) {
		st, err := chromedp.Run(bctx, chromedp.Evaluate[frontState](frontChart))
		if err != nil {
			t.Fatalf("reading the page: %v", err)
		}
		shot, _ := chromedp.Run(bctx, chromedp.CaptureScreenshot())
		return st, shot
	}
	// The page is redrawn each second, or every 3 s at most when a drawing
	// is dear (uiSlowest: under the race detector): each look waits for
	// what it wants, within a deadline.
	time.Sleep(4 * time.Second)
	first, shot1 := look()
	for deadline := time.Now().Add(6 * time.Second); first.Shaded == 0 && time.Now().Before(deadline); {
		time.Sleep(500 * time.Millisecond)
		first, shot1 = look()
	}
	if first.Shaded == 0 {
		t.Errorf("the fault (on from 3 s) is not shaded: %+v", first)
	}
	time.Sleep(2 * time.Second)
	second, shot2 := look()
	for deadline := time.Now().Add(10 * time.Second); (!strings.Contains(second.Gate, "FAIL") || second.Points <= first.Points) && time.Now().Before(deadline); {
		time.Sleep(500 * time.Millisecond) // the checkins sent from 3 s answer from 6 s on
		second, shot2 = look()
	}
	if !first.Live || !second.Live || first.Points <= 0 || second.Points <= first.Points || !strings.HasPrefix(first.Title, "surge (live, ") {
		t.Errorf("while the run plays: %+v then %+v; want a live page whose first chart grows", first, second)
	}
	if !strings.Contains(second.Gate, "checkin p99 <= 2s") || !strings.Contains(second.Gate, "FAIL") || !strings.Contains(second.Banner, "first breach: ") ||
		!strings.Contains(second.Banner, "So far NO-GO") {
		t.Errorf("while the fault bites: gate %q, banner %q; want a clause FAIL (kdca serves qr and checkin), its first breach, so far NO-GO", second.Gate, second.Banner)
	}
	final := second
	for deadline := time.Now().Add(40 * time.Second); final.Live && time.Now().Before(deadline); {
		time.Sleep(time.Second)
		final, _ = look()
	}
	_, shot3 := look()
	if final.Live || final.Title != "surge NO-GO: smoke" || final.Points < second.Points {
		t.Errorf("after the run: %+v; want the final report (surge NO-GO: smoke), no longer live", final)
	}
	if kept, err := os.ReadFile(filepath.Join(dir, "run", "report.html")); err != nil || !strings.Contains(string(kept), "<title>surge NO-GO: smoke</title>") {
		t.Errorf("report.html: %v", err)
	}
	if keep := os.Getenv("SURGE_SCREENSHOTS"); keep != "" {
		for i, s := range [][]byte{shot1, shot2, shot3} {
			os.WriteFile(filepath.Join(keep, "live-"+string(rune('1'+i))+".png"), s, 0o644)
		}
	}
	mu.Lock()
	if len(elsewhere) > 0 {
		t.Errorf("the page asked for other addresses: %v", elsewhere)
	}
	mu.Unlock()
	if code := <-done; code != 2 {
		t.Errorf("the run: exit %d, want 2 (NO-GO)", code)
	}
}
