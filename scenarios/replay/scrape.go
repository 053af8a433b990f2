package replay

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/surgekit/surge/scenarios/results"
)

// sample scrapes the target's Prometheus /metrics for the reference
// server's surge_stage_* series and records one sample per stage.
func (e *engine) sample() {
	ctx, cancel := context.WithTimeout(context.Background(), 800*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.cfg.Target+"/metrics", nil)
	resp, err := e.ctl.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return
	}
	at := time.Since(e.start)
	stages := map[string]*results.StageSample{}
	var order []string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, stage, v, ok := parseStageLine(sc.Text())
		if !ok {
			continue
		}
		s := stages[stage]
		if s == nil {
			s = &results.StageSample{At: at, Stage: stage}
			stages[stage] = s
			order = append(order, stage)
		}
		switch name {
		case "surge_stage_workers":
			s.Workers = v
		case "surge_stage_in_flight":
			s.InFlight = v
		case "surge_stage_queue_length":
			s.Queue = v
		case "surge_stage_served_total":
			s.Served = v
		case "surge_stage_shed_total":
			s.Shed += v
		case "surge_stage_busy_seconds_total":
			s.Busy = v
		}
	}
	e.mu.Lock()
	for _, st := range order {
		e.run.Stages = append(e.run.Stages, *stages[st])
	}
	e.mu.Unlock()
}

// parseStageLine reads `surge_stage_x{stage="kdca",...} 3.5`.
func parseStageLine(line string) (name, stage string, v float64, ok bool) {
	if !strings.HasPrefix(line, "surge_stage_") {
		return
	}
	brace := strings.IndexByte(line, '{')
	end := strings.LastIndexByte(line, '}')
	if brace < 0 || end < brace {
		return
	}
	name = line[:brace]
	labels := line[brace+1 : end]
	i := strings.Index(labels, `stage="`)
	if i < 0 {
		return
	}
	rest := labels[i+len(`stage="`):]
	stage, _, _ = strings.Cut(rest, `"`)
	v, err := strconv.ParseFloat(strings.TrimSpace(line[end+1:]), 64)
	return name, stage, v, err == nil
}
