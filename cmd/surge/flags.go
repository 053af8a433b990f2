package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/surgekit/surge/scenarios/promexport"
)

// flagCheck is a rule on one flag's value, checked only when the flag was
// given: a value that makes no sense is an error naming the flag (exit 1)
// before anything runs, never a silent default.
type flagCheck struct {
	name string
	ok   func() bool
	want string
}

// checkFlags applies the checks whose flag was given.
func checkFlags(fs *pflag.FlagSet, checks ...flagCheck) error {
	for _, c := range checks {
		if f := fs.Lookup(c.name); f != nil && f.Changed && !c.ok() {
			return fmt.Errorf("--%s %s: want %s", c.name, f.Value, c.want)
		}
	}
	return nil
}

// The checks the commands share.
func compressionCheck(v *float64) flagCheck {
	return flagCheck{"compression", func() bool { return *v >= 1 }, "a factor of at least 1 (1: no compression)"}
}

func drainCheck(v *time.Duration) flagCheck {
	return flagCheck{"drain", func() bool { return *v > 0 }, "a positive duration such as 30s"}
}

func positiveInt(name string, v *int) flagCheck {
	return flagCheck{name, func() bool { return *v >= 1 }, "at least 1"}
}

func scaleCheck(v *float64) flagCheck {
	return flagCheck{"scale", func() bool { return *v > 0 && *v <= 1 }, "a scale within (0, 1], such as 1 (national) or 0.02"}
}

// adminTokenFlag is --admin-token: the target's admin token, which surge
// sends to its admin API only and never writes anywhere (the flag's
// default is empty, so that no help text shows $SURGE_ADMIN_TOKEN's value;
// adminToken reads it). The embedded reference server gets a random one.
func adminTokenFlag(f *pflag.FlagSet, v *string) {
	f.StringVar(v, "admin-token", "", "bearer token of the target's admin API (faults, seeded credentials); default: $SURGE_ADMIN_TOKEN")
}

// adminToken is the flag's value, else $SURGE_ADMIN_TOKEN.
func adminToken(flag string) string {
	if flag != "" {
		return flag
	}
	return os.Getenv("SURGE_ADMIN_TOKEN")
}

// metricsFlags are the Prometheus flags of run and capacity.
func metricsFlags(f *pflag.FlagSet, o *runOptions) {
	f.StringVar(&o.metricsListen, "metrics-listen", "", "serve the run's figures for Prometheus at ADDR/metrics (such as 127.0.0.1:9464) while it runs")
	f.DurationVar(&o.metricsLinger, "metrics-linger", 15*time.Second, "with --metrics-listen: how long the final figures stay served after the run, for the last scrape")
	f.StringVar(&o.prometheusRW, "prometheus-rw", "", "push the run's figures to this Prometheus remote-write URL (such as http://127.0.0.1:9090/api/v1/write) while it runs and once at its end")
	f.DurationVar(&o.prometheusRWEvery, "prometheus-rw-interval", 5*time.Second, "with --prometheus-rw: how often the figures are pushed")
}

// checkMetricsFlags checks the Prometheus flags before anything runs; the
// remote-write URL is shown without its password.
func checkMetricsFlags(fs *pflag.FlagSet, o *runOptions) error {
	if o.prometheusRW != "" {
		if _, err := promexport.ParseURL(o.prometheusRW); err != nil {
			return fmt.Errorf("--prometheus-rw: %w", err)
		}
	}
	return checkFlags(fs, flagCheck{"prometheus-rw-interval", func() bool { return o.prometheusRWEvery >= 100*time.Millisecond }, "a duration of at least 100ms"},
		flagCheck{"metrics-linger", func() bool { return o.metricsLinger >= 0 }, "a duration of 0 or more"})
}
