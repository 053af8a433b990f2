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
	let points = 0;
	if (inst) for (const s of inst.getOption().series || []) points += (s.data || []).length;
	return {points, title: w.document.title, live: !!w.document.querySelector('meta[name="surge-live"]')};
})()`

type frontState struct {
	Points int    `json:"points"`
	Title  string `json:"title"`
	Live   bool   `json:"live"`
}

// TestLivePageInChromium: headless Chromium watches a run's live page:
// its charts grow while the run plays (two screenshots, the second with
// more drawn), it asks nothing of any address but the page's, and when
// the run is written it shows the final report, no longer live.
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
		code, _, _ := runSurge("run", "../../scenarios/smoke.yaml", "--out", filepath.Join(dir, "run"), "--ui-listen", addr, "--ui-linger", "8s", "--quiet")
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
	time.Sleep(5 * time.Second)
	first, shot1 := look()
	time.Sleep(5 * time.Second)
	second, shot2 := look()
	if !first.Live || !second.Live || first.Points <= 0 || second.Points <= first.Points || !strings.HasPrefix(first.Title, "surge (live, ") {
		t.Errorf("while the run plays: %+v then %+v; want a live page whose first chart grows", first, second)
	}
	final := second
	for deadline := time.Now().Add(40 * time.Second); final.Live && time.Now().Before(deadline); {
		time.Sleep(time.Second)
		final, _ = look()
	}
	_, shot3 := look()
	if final.Live || final.Title != "surge GO: smoke" || final.Points < second.Points {
		t.Errorf("after the run: %+v; want the final report (surge GO: smoke), no longer live", final)
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
	if code := <-done; code != 0 {
		t.Errorf("the run: exit %d", code)
	}
}
