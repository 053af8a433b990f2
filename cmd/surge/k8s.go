package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/arrival"
	"github.com/surgekit/surge/scenarios/k8s"
)

func newK8sCmd(g *globals) *cobra.Command {
	o := k8sOptions{}
	cmd := &cobra.Command{
		Use:   "k8s SCENARIO.yaml --shards N --image IMAGE --target URL",
		Short: "Print the Kubernetes manifests of one run in N shards (an Indexed Job and its merge)",
		Long: `Prints the Kubernetes objects of one distributed run, for kubectl apply -f -:
the scenario in a ConfigMap; an Indexed Job of N pods, each one shard (surge run --shards N,
its index from JOB_COMPLETION_INDEX), all starting the schedule at one instant, each index
tried once (a shard replayed later would play its arrivals at the wrong time); a claim on a
shared volume (ReadWriteMany by default) their run directories go to; and a merge Job that
waits for the shards, merges them exactly and judges the whole run once: the merge Job
succeeds on GO and fails on NO-GO. Its log is the summary; the merged run directory, with
report.html, is on the volume.

The start is fixed when the manifests are printed (--start-in from now, or --start-at):
apply them at once. The target's admin token, when the scenario switches faults on the
target, comes from a Secret (--admin-token-secret, key "token"), never the manifests.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.scenario, o.seed = args[0], g.seed
			if err := checkFlags(cmd.Flags(), compressionCheck(&o.compression), drainCheck(&o.drain)); err != nil {
				return err
			}
			return printK8s(o, time.Now(), cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.cfg.Shards, "shards", 0, "how many shards (pods) play the run (required)")
	f.StringVar(&o.cfg.Image, "image", "", "the shards' container image, with surge as its entrypoint (required; see ci/image)")
	f.StringVar(&o.target, "target", "", "the service's base URL (default: the scenario's target.url)")
	f.StringVar(&o.cfg.Namespace, "namespace", "", "the objects' namespace (default: kubectl's)")
	f.StringVar(&o.cfg.Name, "name", "", "the run's name, prefix of its objects (default: the scenario's name and the time)")
	f.DurationVar(&o.startIn, "start-in", 2*time.Minute, "the common start, this long after printing (time to schedule the pods and pull the image)")
	f.StringVar(&o.startAt, "start-at", "", "the common start as an RFC 3339 time (instead of --start-in)")
	f.Float64Var(&o.compression, "compression", 0, "time compression factor (overrides compression.factor)")
	f.DurationVar(&o.drain, "drain", 2*time.Minute, "how long users may finish once arrivals end")
	f.BoolVar(&o.cfg.Metrics, "metrics", false, "shard 0 samples the target's /metrics each second")
	f.StringVar(&o.cfg.AdminTokenSecret, "admin-token-secret", "", "a Secret whose key \"token\" is the target's admin token (faults, seeded credentials)")
	f.StringVar(&o.cfg.CPU, "cpu", "1", "CPU each shard requests")
	f.StringVar(&o.cfg.Memory, "memory", "512Mi", "memory each shard requests and is limited to (a user in its journey holds about 8 KB; 5000, the default --max-users, about 160 MB resident)")
	f.StringVar(&o.cfg.Claim, "results-claim", "", "an existing claim for the results (instead of a new one)")
	f.StringVar(&o.cfg.StorageClass, "storage-class", "", "the new claim's storage class (default: the cluster's)")
	f.StringVar(&o.cfg.StorageSize, "storage-size", "1Gi", "the new claim's size")
	f.DurationVar(&o.cfg.KeepFinished, "keep-finished", 24*time.Hour, "how long the finished Jobs and their pods' logs stay before the cluster deletes them (0: kept; the results stay on the claim)")
	f.DurationVar(&o.cfg.MergeGrace, "merge-grace", 5*time.Minute, "how long past the shards' latest end the merge Job waits for a lost shard's results before it fails naming it")
	f.StringVar(&o.cfg.PriorityClass, "priority-class", "", "the pods' priority class (default: the cluster's)")
	f.StringVar(&o.accessMode, "access-mode", string(corev1.ReadWriteMany), "the new claim's access mode: ReadWriteMany (shards on many nodes) or ReadWriteOnce (one node)")
	return cmd
}

type k8sOptions struct {
	scenario, target, startAt, accessMode string
	startIn, drain                        time.Duration
	compression                           float64
	seed                                  uint64
	cfg                                   k8s.Config
}

// printK8s is surge k8s: the scenario as run, its played length, the
// objects.
func printK8s(o k8sOptions, now time.Time, stdout io.Writer) error {
	if o.cfg.Shards == 0 {
		return fmt.Errorf("--shards: give how many shards play the run")
	}
	raw, s, err := loadScenario(runOptions{scenario: o.scenario, compression: o.compression})
	if err != nil {
		return err
	}
	asRun, err := scenarios.AsRun(o.scenario, raw, s)
	if err != nil {
		return err
	}
	sh := shardOptions{startAt: o.startAt}
	if o.startAt == "" {
		sh.startIn = o.startIn
	}
	if err := sh.resolveStart(now); err != nil {
		return err
	}
	if o.startAt == "" {
		sh.start = sh.start.Truncate(time.Second).Add(time.Second) // a whole second, read at a glance
	}
	switch m := corev1.PersistentVolumeAccessMode(o.accessMode); m {
	case corev1.ReadWriteMany, corev1.ReadWriteOnce:
		o.cfg.AccessMode = m
	default:
		return fmt.Errorf("--access-mode %s: want ReadWriteMany or ReadWriteOnce", o.accessMode)
	}
	cfg := o.cfg
	cfg.Scenario, cfg.Seed, cfg.StartAt, cfg.Now, cfg.Drain = asRun, o.seed, sh.start, now, o.drain
	cfg.Target = strings.TrimSuffix(firstNonEmpty(o.target, s.Target.URL), "/")
	cfg.Played = arrival.New(s).Played()
	if cfg.Name == "" {
		cfg.Name = strings.Trim(k8sName(s.Name), "-") + "-" + now.UTC().Format("0102-1504")
	}
	objs, err := k8s.Manifests(cfg)
	if err != nil {
		return err
	}
	return k8s.Write(stdout, objs)
}

// k8sName is name in DNS-1123 label characters, cut to leave room for the
// time.
func k8sName(name string) string {
	b := []byte(strings.ToLower(name))
	for i, c := range b {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			b[i] = '-'
		}
	}
	return string(b[:min(len(b), 40)])
}
