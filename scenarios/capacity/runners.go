package capacity

import (
	"context"
	"fmt"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/profile"
	"github.com/surgekit/surge/scenarios/replay"
	"github.com/surgekit/surge/scenarios/results"
	"github.com/surgekit/surge/sim"
)

// LiveRunner runs the steps for real against a target, with the live engine.
type LiveRunner struct {
	// Config is every step's replay configuration but its scenario, seed,
	// drain and bucket (which the search sets).
	Config replay.Config
	// Cool is the pause after a step (default 3s); with stage metrics the
	// pause also waits, up to a minute, for the target's queues to empty.
	Cool time.Duration
	// Snapshots are the target's /metrics before and after each steady
	// step (with SampleMetrics), for a stage-level calibration.
	Snapshots []Snapshot
}

// Snapshot is a target's /metrics before and after one step.
type Snapshot struct {
	Before, After map[string]*dto.MetricFamily
	// BeforeAt and AfterAt are when each was scraped (the wall clock: a
	// live step's time, over which the target's counters are rates).
	BeforeAt, AfterAt time.Time
}

// Mode is "live".
func (l *LiveRunner) Mode() string { return "live" }

// Steady plays a steady step.
func (l *LiveRunner) Steady(ctx context.Context, s *scenarios.Scenario, seed uint64, drain time.Duration) (*results.Run, error) {
	return l.steady(ctx, s, seed, drain, nil)
}

// steady plays a steady step, with set's changes to its replay
// configuration, between the scrapes of the target's metrics.
func (l *LiveRunner) steady(ctx context.Context, s *scenarios.Scenario, seed uint64, drain time.Duration, set func(*replay.Config)) (*results.Run, error) {
	cfg := l.Config
	cfg.Scenario, cfg.Seed, cfg.Drain, cfg.Bucket, cfg.Progress = s, seed, drain, time.Second, nil
	if set != nil {
		set(&cfg)
	}
	var snap Snapshot
	if cfg.SampleMetrics {
		snap.Before, _ = replay.Scrape(ctx, cfg.Target)
		snap.BeforeAt = time.Now()
	}
	run, err := replay.Run(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if cfg.SampleMetrics {
		snap.After, _ = replay.Scrape(ctx, cfg.Target)
		snap.AfterAt = time.Now()
	}
	l.Snapshots = append(l.Snapshots, snap)
	return run, nil
}

// SteadyUntil plays a steady step as Steady does, and ends its arrivals
// once done, asked each second with the run so far (under the engine's
// lock: done must not keep it long), the engine's clock and the time on it
// before which every answer is in (replay.Live.Answered), says so.
func (l *LiveRunner) SteadyUntil(ctx context.Context, s *scenarios.Scenario, seed uint64, drain time.Duration,
	done func(run *results.Run, elapsed, answered time.Duration) bool) (*results.Run, error) {
	live, enough := &replay.Live{}, make(chan struct{})
	closed := false
	return l.steady(ctx, s, seed, drain, func(cfg *replay.Config) {
		cfg.Live, cfg.Enough = live, enough
		cfg.Progress = func(p replay.Progress) {
			if closed || p.Draining {
				return
			}
			answered, _ := live.Answered() // 0 when unknown
			live.View(func(run *results.Run, _ int64) { closed = done(run, p.Elapsed, answered) })
			if closed {
				close(enough)
			}
		}
	})
}

// Probe plays s as Steady does, without the scrapes around it: a probe
// between steps, not a step.
func (l *LiveRunner) Probe(ctx context.Context, s *scenarios.Scenario, seed uint64) (*results.Run, error) {
	cfg := l.Config
	cfg.Scenario, cfg.Seed, cfg.Drain, cfg.Bucket, cfg.Progress, cfg.SampleMetrics = s, seed, 10*time.Second, time.Second, nil, false
	return replay.Run(ctx, cfg)
}

// Closed plays a closed-loop level.
func (l *LiveRunner) Closed(ctx context.Context, s *scenarios.Scenario, seed uint64, users int, d time.Duration) (*results.Run, error) {
	cfg := l.Config
	sc, err := Steady(s, PeakMix(s), float64(users)*1000, d+time.Hour) // far more arrivals than users can take: only the mix is read
	if err != nil {
		return nil, err
	}
	cfg.Scenario, cfg.Seed, cfg.Drain, cfg.Bucket, cfg.Progress = sc, seed, 30*time.Second, time.Second, nil
	return replay.RunClosed(ctx, cfg, users, d)
}

// Cooldown pauses, and waits for the target's stage queues to empty when
// it exports them.
func (l *LiveRunner) Cooldown(ctx context.Context) error {
	cool := l.Cool
	if cool <= 0 {
		cool = 3 * time.Second
	}
	if err := sleep(ctx, cool); err != nil {
		return err
	}
	if !l.Config.SampleMetrics {
		return nil
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		stages, err := replay.Stages(ctx, l.Config.Target)
		if err != nil || len(stages) == 0 {
			return nil
		}
		busy := 0.0
		for _, st := range stages {
			busy += st.Queue + st.InFlight
		}
		if busy == 0 {
			return nil
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SimRunner runs the steps in the simulator on a capacity profile.
type SimRunner struct {
	Profile *profile.Profile
	// Capacity multiplies the profile's workers and queues (default 1), as
	// surge sim --scale does.
	Capacity float64
}

// Mode is "sim".
func (m *SimRunner) Mode() string { return "sim" }

// Steady simulates a steady step.
func (m *SimRunner) Steady(ctx context.Context, s *scenarios.Scenario, seed uint64, drain time.Duration) (*results.Run, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	run, _, err := sim.Run(ctx, sim.Config{Scenario: s, Profile: m.Profile, Seed: seed, Capacity: m.Capacity, Drain: drain, Bucket: time.Second,
		Meta: results.Meta{Scenario: s.Name, Profile: m.Profile.Name}})
	return run, err
}

// Closed is not simulated: the simulator plays open arrivals only.
func (m *SimRunner) Closed(context.Context, *scenarios.Scenario, uint64, int, time.Duration) (*results.Run, error) {
	return nil, fmt.Errorf("capacity: the closed-loop sweep runs against a live target, not in the simulator")
}

// Cooldown has nothing to wait for.
func (m *SimRunner) Cooldown(context.Context) error { return nil }
