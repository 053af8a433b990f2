package main

import (
	"bytes"
	"context"
	"crypto/subtle"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"time"

	"github.com/surgekit/surge/reports"
	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/replay"
	"github.com/surgekit/surge/scenarios/results"
)

// The live page (--ui): the run's report, drawn by the report's own
// renderer from the running engine's figures, redrawn at most once a
// second however many browsers watch, and, once the run is written, the
// run's report.html itself, so what was watched is what is kept.
//
// Threat model: the page shows what the report shows (no secrets: the
// report never holds them) and changes nothing (GET only). On loopback it
// is open to whoever can reach loopback; on any other address it needs
// the token of $SURGE_UI_TOKEN on every request (?token=), compared in
// constant time, and surge prints the page's address with it once, to the
// terminal only. A browser reads the page through an outer page that swaps
// two frames, so a redraw never blanks the screen.

// uiRedraw is how often the page is redrawn at most.
const uiRedraw = time.Second

// uiBudget is what the page may cost: after a drawing that took d of CPU,
// the next waits until d is at most uiBudget of the CPU the process spent
// since, or uiFloor of the time since (a page that costs half a percent of
// a core is cheap whatever the run costs), and at most uiSlowest. A run at
// 2,000 requests a second spends about a sixth of a core: a 9 ms drawing
// is then redrawn every 2 s, not every second (5% of the run's CPU); a
// drawing of 50 ms (a long run under the race detector) every 3 s.
const (
	uiBudget  = 0.02
	uiFloor   = 0.005
	uiSlowest = 3 * time.Second
)

type liveUI struct {
	name string // the scenario's
	// draw is the page as things stand, and how far they are ("6s of 15s
	// played"); nil page: nothing to show yet.
	draw  func() ([]byte, string)
	token string
	srv   *http.Server
	url   string

	mu    sync.Mutex
	page  []byte        // the last drawing
	drawn time.Time     // when
	took  time.Duration // the CPU it took (0 where the OS does not say)
	cpu   time.Duration // the process's CPU when it was drawn
	final string        // report.html, once the run is written
}

// uiOptions are the live page's flags.
type uiOptions struct {
	on     bool          // --ui
	listen string        // --ui-listen: its address
	linger time.Duration // --ui-linger: how long the final report stays served
	open   bool          // --open: open it in a browser
}

// wanted says a flag asks for the page.
func (o uiOptions) wanted() bool { return o.on || o.listen != "" || o.open }

// startUI listens on o.listen (loopback: 127.0.0.1:0 by default) before any
// load: a busy port or a non-loopback address without $SURGE_UI_TOKEN is
// an error, exit 1. With --open it opens the page in a browser.
func startUI(o uiOptions, name string, draw func() ([]byte, string), stderr io.Writer) (*liveUI, error) {
	addr := o.listen
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--ui-listen %s: want HOST:PORT", addr)
	}
	u := &liveUI{name: name, draw: draw}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		if u.token = os.Getenv("SURGE_UI_TOKEN"); len(u.token) < 16 {
			return nil, fmt.Errorf("--ui-listen %s: a page off loopback needs a token of at least 16 characters in $SURGE_UI_TOKEN (such as $(openssl rand -hex 16))", addr)
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--ui-listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", u.shell)
	mux.HandleFunc("GET /report", u.report)
	mux.HandleFunc("GET /"+uiScript, script)
	u.srv = &http.Server{Handler: u.guard(mux), ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second, MaxHeaderBytes: 16 << 10}
	go u.srv.Serve(ln)
	u.url = "http://" + ln.Addr().String() + "/"
	if u.token != "" {
		u.url += "?token=" + u.token
	}
	fmt.Fprintf(stderr, "live page: %s\n", u.url)
	if o.open {
		if err := openBrowser(u.url); err != nil {
			fmt.Fprintf(stderr, "live page: --open: %v (open the address above yourself)\n", err)
		}
	}
	return u, nil
}

// openBrowser starts $BROWSER on url, else the system's opener
// (xdg-open, open, or Windows' url handler); it does not wait for it.
func openBrowser(url string) error {
	var cmd *exec.Cmd
	switch b := os.Getenv("BROWSER"); {
	case b != "":
		cmd = exec.Command(b, url)
	case runtime.GOOS == "darwin":
		cmd = exec.Command("open", url)
	case runtime.GOOS == "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait() // reaped whenever the opener exits
	return nil
}

// uiScript is where the live page's drawings read the ECharts script: once
// a page, cached, not a megabyte inside every drawing.
const uiScript = "echarts-" + reports.EChartsVersion + ".js"

// script serves the ECharts script (public: no token needed).
func script(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=86400, immutable")
	io.WriteString(w, reports.EChartsJS())
}

// guard admits GETs, with the token when there is one (but for the
// ECharts script, which holds nothing of the run).
func (u *liveUI) guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u.token != "" && r.URL.Path != "/"+uiScript && subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("token")), []byte(u.token)) != 1 {
			http.Error(w, "the live page needs its token (?token=)", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// shell is the outer page: two frames of /report, the hidden one loaded
// while the other shows, then swapped (at the same scroll), each second
// until the report is the final one.
func (u *liveUI) shell(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, `<!doctype html><html><head><meta charset="utf-8"><title>surge: `+html.EscapeString(u.name)+` (live)</title>
<style>html,body{margin:0;height:100%}iframe{position:fixed;inset:0;width:100%;height:100%;border:0;background:#fff}</style></head>
<body><iframe id="a"></iframe><iframe id="b" style="visibility:hidden"></iframe>
<script>
let front = document.getElementById("a"), back = document.getElementById("b");
const q = new URLSearchParams(location.search);
function load() {
  q.set("t", Date.now());
  back.onload = () => {
    const y = front.contentWindow ? front.contentWindow.scrollY : 0;
    back.contentWindow.scrollTo(0, y);
    back.style.visibility = "visible"; front.style.visibility = "hidden";
    [front, back] = [back, front];
    document.title = front.contentDocument.title;
    if (front.contentDocument.querySelector('meta[name="surge-live"]')) setTimeout(load, 1000);
  };
  back.src = "/report?" + q.toString();
}
load();
</script></body></html>`)
}

// report is the run's page: its drawing as it runs, report.html once
// written.
func (u *liveUI) report(w http.ResponseWriter, r *http.Request) {
	page, final := u.drawing()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if final != "" {
		http.ServeFile(w, r, final)
		return
	}
	w.Write(page)
}

// drawing is the page as things stand, redrawn at most once a second,
// and no more often than uiBudget allows.
func (u *liveUI) drawing() ([]byte, string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.final != "" || (u.page != nil && !u.due(time.Now(), processCPU())) {
		return u.page, u.final
	}
	before := processCPU()
	page, where := u.draw()
	if page == nil {
		page = []byte(`<!doctype html><html><head><meta charset="utf-8"><title>surge: ` + html.EscapeString(u.name) + ` (starting)</title></head><body><p>Starting.</p></body></html>`)
	}
	u.page, u.drawn = live(page, u.name, where), time.Now()
	u.cpu = processCPU()
	u.took = u.cpu - before
	return u.page, ""
}

// due says the page may be redrawn at now, the process having spent cpu:
// a second on, and the last drawing's CPU within uiBudget of what the
// process spent since (or uiSlowest on, whatever it costs).
func (u *liveUI) due(now time.Time, cpu time.Duration) bool {
	since := now.Sub(u.drawn)
	switch {
	case since < uiRedraw:
		return false
	case since >= uiSlowest || u.took <= 0:
		return true
	}
	return float64(u.took) <= max(uiBudget*float64(cpu-u.cpu), uiFloor*float64(since))
}

// runDrawing draws a run's report from the running engine's figures: a
// copy made under the engine's lock, drawn outside it.
func runDrawing(s *scenarios.Scenario, l *replay.Live) func() ([]byte, string) {
	return func() ([]byte, string) {
		var snap *results.Run
		l.View(func(run *results.Run, _ int64) { snap = snapshot(run) })
		if snap == nil {
			return nil, ""
		}
		return drawRun(s, snap)
	}
}

// drawRun is a running run's page and how far it is.
func drawRun(s *scenarios.Scenario, snap *results.Run) ([]byte, string) {
	var b bytes.Buffer
	if err := reports.HTMLLinked(&b, reports.New(s, snap), uiScript); err != nil {
		return []byte(html.EscapeString(err.Error())), ""
	}
	return b.Bytes(), fmt.Sprintf("%s of %s played", snap.Meta.Elapsed.Round(time.Second), snap.Meta.Planned.Round(time.Second))
}

// snapshot copies the run as it stands, its clock at now.
func snapshot(run *results.Run) *results.Run {
	out := results.New(run.Meta)
	out.Version, out.StageCalls = run.Version, run.StageCalls
	out.Merge(run)
	out.Meta.Elapsed = min(time.Since(run.Meta.Started), run.Meta.Planned+time.Minute)
	out.Meta.Ended = "running"
	return out
}

// live marks a drawing as the running one: the shell keeps redrawing it,
// its title and a banner say it is not the final page, and its verdict is
// so far.
func live(page []byte, name, where string) []byte {
	banner := `<meta name="surge-live"><div style="position:sticky;top:0;z-index:10;background:#fff3cd;padding:6px 12px;border-bottom:1px solid #e0c36a">` +
		`Live: in progress`
	if where != "" {
		banner += " (" + html.EscapeString(where) + ")"
	}
	banner += `; the figures so far, redrawn each second (less often when a drawing would cost more than 2% of the run's CPU). The final report replaces this page when it is written.</div>`
	if i, j := bytes.Index(page, []byte("<title>")), bytes.Index(page, []byte("</title>")); i >= 0 && j > i {
		title := "<title>surge (live"
		if where != "" {
			title += ", " + html.EscapeString(where)
		}
		title += "): " + html.EscapeString(name)
		page = append(append(append([]byte{}, page[:i]...), title...), page[j:]...)
	}
	if i := bytes.Index(page, []byte(`<div id="verdict" class="banner `)); i >= 0 {
		if j := bytes.IndexByte(page[i:], '>'); j >= 0 {
			at := i + j + 1
			if !bytes.HasPrefix(page[at:], []byte("SEARCHING")) {
				page = append(append(append([]byte{}, page[:at]...), "So far "...), page[at:]...)
			}
		}
	}
	// after the report's own body tag (its embedded ECharts script has
	// "<body" in a string of its own, before it)
	if i := bytes.Index(page, []byte("</head><body>")); i >= 0 {
		at := i + len("</head><body>")
		return append(append(append([]byte{}, page[:at]...), banner...), page[at:]...)
	}
	return append([]byte(banner), page...)
}

// finish makes the page the written report.
func (u *liveUI) finish(reportHTML string) {
	u.mu.Lock()
	u.final = reportHTML
	u.mu.Unlock()
}

// stop keeps the page up for linger (a browser's next redraw finds the
// final report), then closes it.
func (u *liveUI) stop(ctx context.Context, linger time.Duration, stderr io.Writer) {
	if linger > 0 && ctx.Err() == nil {
		fmt.Fprintf(stderr, "live page: the final report stays served for %v\n", linger)
		select {
		case <-time.After(linger):
		case <-ctx.Done():
		}
	}
	u.srv.Close()
}
