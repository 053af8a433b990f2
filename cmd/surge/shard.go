package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// shardOptions are surge run's flags for one of N machines.
type shardOptions struct {
	shard   string        // --shard I/N
	shards  int           // --shards N: the index from $JOB_COMPLETION_INDEX
	startAt string        // --start-at RFC3339
	startIn time.Duration // --start-in
	// resolved
	index, count int
	start        time.Time
}

// jobIndexEnv is the variable Kubernetes sets in an Indexed Job's pods.
const jobIndexEnv = "JOB_COMPLETION_INDEX"

func shardFlags(f *pflag.FlagSet, o *shardOptions) {
	f.StringVar(&o.shard, "shard", "", "play shard I of N of the run (I/N, such as 2/8): the shards together play the one schedule exactly; merge them with surge merge")
	f.IntVar(&o.shards, "shards", 0, "play one of N shards, its index from $"+jobIndexEnv+" (a Kubernetes Indexed Job's pods)")
	f.StringVar(&o.startAt, "start-at", "", "start the schedule at this instant (RFC 3339, such as 2026-12-13T11:00:00Z): every shard of a run is given the same")
	f.DurationVar(&o.startIn, "start-in", 0, "start the schedule this long from now (for shards started on one machine at once)")
}

// resolve checks the shard flags and fills index, count and start; now
// is the instant the start must not be before.
func (o *shardOptions) resolve(now time.Time) error {
	o.index, o.count = 0, 1
	switch {
	case o.shard != "" && o.shards != 0:
		return fmt.Errorf("--shard and --shards: give one (--shards takes the index from $%s)", jobIndexEnv)
	case o.shard != "":
		i, n, ok := strings.Cut(o.shard, "/")
		index, err1 := strconv.Atoi(i)
		count, err2 := strconv.Atoi(n)
		if !ok || err1 != nil || err2 != nil || count < 1 || index < 0 || index >= count {
			return fmt.Errorf("--shard %s: want I/N with 0 <= I < N, such as 0/4 to 3/4", o.shard)
		}
		o.index, o.count = index, count
	case o.shards != 0:
		if o.shards < 1 {
			return fmt.Errorf("--shards %d: want at least 1", o.shards)
		}
		env, ok := os.LookupEnv(jobIndexEnv)
		if !ok {
			return fmt.Errorf("--shards %d: $%s is not set (Kubernetes sets it in an Indexed Job's pods; elsewhere give --shard I/N)", o.shards, jobIndexEnv)
		}
		index, err := strconv.Atoi(env)
		if err != nil || index < 0 || index >= o.shards {
			return fmt.Errorf("--shards %d: $%s=%q: want an index from 0 to %d", o.shards, jobIndexEnv, env, o.shards-1)
		}
		o.index, o.count = index, o.shards
	}
	return o.resolveStart(now)
}

func (o *shardOptions) resolveStart(now time.Time) error {
	switch {
	case o.startAt != "" && o.startIn != 0:
		return fmt.Errorf("--start-at and --start-in: give one")
	case o.startIn < 0:
		return fmt.Errorf("--start-in %v: want a duration of 0 or more", o.startIn)
	case o.startIn > 0:
		o.start = now.Add(o.startIn)
	case o.startAt != "":
		t, err := time.Parse(time.RFC3339, o.startAt)
		if err != nil {
			return fmt.Errorf("--start-at %s: want an RFC 3339 time such as 2026-12-13T11:00:00Z", o.startAt)
		}
		if t.Before(now) {
			return fmt.Errorf("--start-at %s: the start is %v in the past (a shard started after it would miss its first arrivals; give every shard a later one)",
				o.startAt, now.Sub(t).Round(time.Second))
		}
		o.start = t
	}
	return nil
}

// suffix names a shard's default run directory.
func (o *shardOptions) suffix() string {
	if o.count <= 1 {
		return ""
	}
	return fmt.Sprintf("-shard-%d-of-%d", o.index, o.count)
}
