package browser

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/surgekit/surge/reference-server/profiles"
	"github.com/surgekit/surge/reports"
	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/capacity"
	"github.com/surgekit/surge/scenarios/results"
	"github.com/surgekit/surge/sim"
)

// page is what the browser saw.
type page struct {
	mu       sync.Mutex
	problems []string // console errors, exceptions, error log entries
	requests []string // every URL the page asked for
}

func (p *page) add(list *[]string, s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	*list = append(*list, s)
}

// chartState is one chart as the browser drew it.
type chartState struct {
	ID       string        `json:"id"`
	Instance bool          `json:"instance"`
	Width    int           `json:"width"`
	Height   int           `json:"height"`
	Series   int           `json:"series"`
	Points   int           `json:"points"`
	XType    string        `json:"xType"`
	XAxis    []float64     `json:"xAxis"` // the x axis's extent as drawn
	XLabels  []string      `json:"xLabels"`
	YType    string        `json:"yType"`
	YAxis    []float64     `json:"yAxis"`
	Drawn    []seriesState `json:"drawn"`
}

// seriesState is one series as drawn: its name, colour, and the extent of
// the x values it is drawn at (stacked on x, the stacked values).
type seriesState struct {
	Name    string    `json:"name"`
	Colour  string    `json:"colour"`
	X       []float64 `json:"x"`
	Stacked string    `json:"stacked"`
}

const inspect = `(() => [...document.querySelectorAll('div.item')].map(el => {
	const inst = echarts.getInstanceByDom(el);
	const canvas = el.querySelector('canvas');
	let series = 0, points = 0, xType = '', xAxis = [], drawn = [], xLabels = [], yType = '', yAxis = [];
	if (inst) {
		const s = inst.getOption().series || [];
		series = s.length;
		for (const x of s) points += (x.data || []).length;
		const m = inst.getModel(), ax = m.getComponent('xAxis', 0);
		if (ax) { xType = ax.get('type'); xAxis = ax.axis.scale.getExtent(); xLabels = ax.axis.getViewLabels().map(l => String(l.formattedLabel)); }
		const ay = m.getComponent('yAxis', 0);
		if (ay) { yType = ay.get('type'); yAxis = ay.axis.scale.getExtent(); }
		drawn = m.getSeries().map(sm => {
			const d = sm.getData(), stacked = d.getCalculationInfo('stackedDimension') || '';
			const dim = stacked === d.mapDimension('x') ? d.getCalculationInfo('stackResultDimension') : d.mapDimension('x');
			const c = inst.getVisual({seriesIndex: sm.seriesIndex}, 'color');
			return {name: sm.name, colour: typeof c === 'string' ? c : JSON.stringify(c), x: xType === 'value' ? d.getDataExtent(dim) : [], stacked};
		});
	}
	return {id: el.id, instance: !!inst, width: canvas ? canvas.width : 0, height: canvas ? canvas.height : 0, series, points, xType, xAxis, drawn, xLabels, yType, yAxis};
}))()`

// open loads a report file in headless Chromium with the network switched
// off, waits for it to settle, and returns its charts, its verdict banner
// and a screenshot.
func open(t *testing.T, file string) (*page, []chartState, string, []byte) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(Chromium(t)),
		chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	p := &page{}
	err := chromedp.Listen(bctx, func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range e.Args {
					args = append(args, a.Description+string(a.Value))
				}
				p.add(&p.problems, "console."+string(e.Type)+": "+strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			d := e.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			p.add(&p.problems, "exception: "+msg)
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError {
				p.add(&p.problems, "log: "+e.Entry.Text+" "+e.Entry.URL)
			}
		case *network.EventRequestWillBeSent:
			p.add(&p.requests, e.Request.URL)
		}
	})
	if err != nil {
		t.Fatalf("starting %s: %v", Chromium(t), err)
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		t.Fatal(err)
	}
	steps := []func() error{
		func() error { _, err := chromedp.Call(bctx, network.Enable, network.EnableParams{}); return err },
		func() error {
			_, err := chromedp.Call(bctx, network.OverrideNetworkState, network.OverrideNetworkStateParams{Offline: true,
				DownloadThroughput: -1, UploadThroughput: -1})
			return err
		},
		func() error { _, err := chromedp.Call(bctx, log.Enable, cdp.Empty{}); return err },
		func() error { _, err := chromedp.Call(bctx, runtime.Enable, cdp.Empty{}); return err },
		func() error {
			return chromedp.Do(bctx, chromedp.Navigate("file://"+abs), chromedp.WaitVisible("#verdict"),
				chromedp.Sleep(500*time.Millisecond)) // let ECharts finish its first frame
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("chromium on %s: %v", file, err)
		}
	}
	charts, err := chromedp.Run(bctx, chromedp.Evaluate[[]chartState](inspect))
	if err != nil {
		t.Fatalf("inspecting the charts: %v", err)
	}
	banner, err := chromedp.Run(bctx, chromedp.Text("#verdict"))
	if err != nil {
		t.Fatalf("reading the verdict: %v", err)
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return p, charts, banner, shot
}

// checkChart: a chart over time draws every series within the run's span
// (a series stacked along time, or an axis running past the end, is
// wrong), and no two series that are not the same thing seen two ways
// ("kdca measured" and "kdca predicted") share a colour.
func checkChart(t *testing.T, page string, c chartState, span float64) {
	t.Helper()
	if c.XType == "value" {
		if len(c.XAxis) != 2 || c.XAxis[0] < 0 || c.XAxis[1] > span*1.001 {
			t.Errorf("%s: chart %s: x axis %v, want within the run's 0-%gs", page, c.ID, c.XAxis, span)
		}
		for _, s := range c.Drawn {
			if len(s.X) != 2 || s.X[0] < 0 || s.X[1] > span || s.Stacked == "x" {
				t.Errorf("%s: chart %s: series %q drawn at x %v (stacked on %q), want within 0-%gs", page, c.ID, s.Name, s.X, s.Stacked, span)
			}
		}
	}
	seen := map[string]bool{}
	for _, l := range c.XLabels {
		if c.XType == "value" && (strings.Contains(l, "\n") || seen[l]) {
			t.Errorf("%s: chart %s: x labels %q: each tick is labelled once, on one row", page, c.ID, c.XLabels)
			break
		}
		seen[l] = true
	}
	owner := map[string]string{}
	for _, s := range c.Drawn {
		base := s.Name
		for _, suffix := range []string{" measured", " predicted", " baseline"} {
			base = strings.TrimSuffix(base, suffix)
		}
		if o, ok := owner[s.Colour]; ok && o != base {
			t.Errorf("%s: chart %s: %q and %q share the colour %s", page, c.ID, o, base, s.Colour)
		}
		owner[s.Colour] = base
	}
}

var chartDiv = regexp.MustCompile(`<div class="item" id="([A-Za-z0-9_]+)"`)

// checkRendered opens a report page in Chromium, saves its screenshot as
// name.png, and checks that nothing failed, nothing was fetched, every chart
// drew data within the run's span (seconds) and each of its series in a
// colour of its own, and the banner says want.
func checkRendered(t *testing.T, page []byte, name, want string, span float64) []chartState {
	t.Helper()
	out := t.TempDir()
	file := filepath.Join(out, name+".html")
	if err := os.WriteFile(file, page, 0o644); err != nil {
		t.Fatal(err)
	}
	divs := chartDiv.FindAllStringSubmatch(string(page), -1)
	p, charts, banner, shot := open(t, file)
	png := filepath.Join(out, name+".png")
	if err := os.WriteFile(png, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d charts, screenshot %s (%d bytes)", name, len(charts), png, len(shot))
	if d := os.Getenv("SURGE_SCREENSHOT_DIR"); d != "" {
		os.WriteFile(filepath.Join(d, name+".png"), shot, 0o644)
	}
	for _, msg := range p.problems {
		t.Errorf("%s: browser: %s", name, msg)
	}
	for _, u := range p.requests {
		if !strings.HasPrefix(u, "file:") && !strings.HasPrefix(u, "data:") {
			t.Errorf("%s: the report fetched %s: it must be self-contained", name, u)
		}
	}
	if len(charts) != len(divs) {
		t.Errorf("%s: the browser found %d charts, the page has %d", name, len(charts), len(divs))
	}
	for _, c := range charts {
		if !c.Instance || c.Width == 0 || c.Height == 0 || c.Series == 0 || c.Points == 0 {
			t.Errorf("%s: chart %s did not render: %+v", name, c.ID, c)
		}
		checkChart(t, name, c, span)
	}
	if !strings.HasPrefix(strings.TrimSpace(banner), want) {
		t.Errorf("%s: verdict banner %q, want %s", name, banner, want)
	}
	return charts
}

// TestReportRendersOffline renders the golden fixture (a measured run with a
// baseline and a prediction: every kind of chart the report has) with the
// real embedded ECharts, opens it in Chromium with no network, and checks
// that every chart drew data, nothing was fetched and nothing failed.
func TestReportRendersOffline(t *testing.T) {
	Chromium(t)
	dir := "../../reports/testdata/golden"
	rep := &reports.Report{}
	var err error
	if rep.Loaded, err = reports.Load(filepath.Join(dir, "run")); err != nil {
		t.Fatal(err)
	}
	if rep.Baseline, err = reports.Load(filepath.Join(dir, "baseline")); err != nil {
		t.Fatal(err)
	}
	if rep.Prediction, err = reports.Load(filepath.Join(dir, "prediction")); err != nil {
		t.Fatal(err)
	}
	var html bytes.Buffer
	if err := reports.HTML(&html, rep); err != nil {
		t.Fatal(err)
	}
	if n := len(chartDiv.FindAllString(html.String(), -1)); n < 10 {
		t.Fatalf("the page has %d chart elements; the fixture should give every section its charts", n)
	}
	checkRendered(t, html.Bytes(), "golden", "NO-GO", rep.Run.Meta.Planned.Seconds())
}

// TestPredictionReportRendersOffline renders what `surge sim` writes for the
// naver-degraded scenario (a fault, recovery, the simulator's stage
// samples) and checks it in the browser the same way.
func TestPredictionReportRendersOffline(t *testing.T) {
	Chromium(t)
	html, span := simPage(t, "naver-degraded.yaml", "fixed")
	checkRendered(t, html, "naver-degraded-sim", "NO-GO", span)
}

// simPage is the page `surge sim` writes for a shipped scenario on a
// profile, and the span its charts cover (seconds).
func simPage(t *testing.T, scenario, profile string) ([]byte, float64) {
	s, err := scenarios.Load("../../scenarios/" + scenario)
	if err != nil {
		t.Fatal(err)
	}
	p, err := profiles.Load(profile)
	if err != nil {
		t.Fatal(err)
	}
	run, _, err := sim.Run(context.Background(), sim.Config{Scenario: s, Profile: p, Seed: 1, Meta: results.Meta{Scenario: s.Name, Profile: p.Name}})
	if err != nil {
		t.Fatal(err)
	}
	var html bytes.Buffer
	if err := reports.HTML(&html, reports.New(s, run)); err != nil {
		t.Fatal(err)
	}
	return html.Bytes(), max(run.Meta.Planned, run.Meta.Elapsed).Seconds()
}

// TestDayReportRendersOffline renders what `surge sim` writes for 13-dec.yaml
// (both meals, the users coming back, clauses per period) and checks it in
// the browser the same way, the coming-back chart among the others.
func TestDayReportRendersOffline(t *testing.T) {
	Chromium(t)
	html, span := simPage(t, "13-dec.yaml", "as-built")
	if !strings.Contains(string(html), `id="surge_returns"`) {
		t.Fatal("the page has no coming-back chart")
	}
	charts := checkRendered(t, html, "13-dec-sim", "NO-GO", span)
	// checkin's latency spans 100 ms to the client's 10 s timeout: a log
	// axis that holds its 2 s SLO line and the timeout's; the time axis
	// labelled once, by the scenario's clock.
	found := false
	for _, c := range charts {
		switch {
		case c.ID == "surge_latency_1_checkin":
			found = true
			if c.YType != "log" || len(c.YAxis) != 2 || c.YAxis[0] > 2000 || c.YAxis[1] < 10000 {
				t.Errorf("checkin latency: y axis %s %v, want log from below the 2 s SLO to above the 10 s timeout", c.YType, c.YAxis)
			}
		case c.ID == "surge_traffic":
			if len(c.XLabels) < 5 || c.XLabels[0] != "11:00" {
				t.Errorf("traffic: x labels %q, want the scenario clock from 11:00", c.XLabels)
			}
		}
	}
	if !found {
		t.Error("no latency chart for checkin")
	}
	if !strings.Contains(string(html), "Traffic, predicted</h2>") {
		t.Error("the prediction's headings do not say predicted")
	}
}

// TestCapacityPageRendersOffline renders surge capacity's page for lunch's
// search on as-built in the simulator, and checks it in the browser the
// same way: every chart drew, within its axis, in distinct colours.
func TestCapacityPageRendersOffline(t *testing.T) {
	Chromium(t)
	s, err := scenarios.Load("../../scenarios/lunch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := profiles.Load("as-built")
	if err != nil {
		t.Fatal(err)
	}
	res, err := capacity.Search(context.Background(), capacity.Config{Scenario: s, Runner: &capacity.SimRunner{Profile: p}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	var html bytes.Buffer
	if err := reports.CapacityHTML(&html, &res.Capacity, s); err != nil {
		t.Fatal(err)
	}
	most := 0.0
	for _, st := range res.Steps {
		most = max(most, st.Offered)
	}
	if n := len(chartDiv.FindAllString(html.String(), -1)); n < 3 {
		t.Fatalf("the page has %d charts; want throughput and a latency chart per request", n)
	}
	checkRendered(t, html.Bytes(), "capacity-lunch", "SEARCHED", most*1.05)
}
