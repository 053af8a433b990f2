package k8s

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// repo is the surge repository's root, from this package's directory.
const repo = "../.."

// shards is how many shards the e2e plays smoke.yaml in.
const shards = 4

// TestShardedRunOnARealControlPlane: surge k8s's manifests for
// scenarios/smoke.yaml in four shards, applied with kubectl to a real API
// server (validated, defaulted and admitted there), are played by the real
// Job controller and scheduler, the pods run by the node agent; the merge
// Job completes (the merged run's GO), and the merged run has the users
// and requests of the same scenario played unsharded, same seed, against
// the same reference server (itself a Deployment's pod). Then a shard
// killed on a second run leaves its Job failed, and the merge Job, given
// what it has, fails naming the missing shard.
func TestShardedRunOnARealControlPlane(t *testing.T) {
	if testing.Short() {
		t.Skip("a control plane and two distributed runs: minutes")
	}
	c := startCluster(t)
	bins := buildSurge(t)
	ctx, cancel := context.WithCancel(context.Background())
	a := &agent{cs: c.cs, node: "node-1", root: t.TempDir(), images: map[string][]string{"surge:e2e": {"/surge"}},
		bins:    map[string]string{"/surge": bins["surge"], "/reference-server": bins["reference-server"]},
		running: map[types.UID]*exec.Cmd{}, started: map[types.UID]time.Time{}, byName: map[string]time.Time{}}
	must(t, a.register(ctx))
	stopped := make(chan struct{})
	go func() { a.run(ctx, t); close(stopped) }()
	t.Cleanup(func() { cancel(); <-stopped })

	ns, token := "load", randomToken(t)
	for _, args := range [][]string{{"create", "namespace", ns}, {"-n", ns, "create", "secret", "generic", "pass-admin", "--from-literal=token=" + token}} {
		if out, err := c.kubectl(nil, args...); err != nil {
			t.Fatalf("kubectl %v: %v\n%s", args[:3], err, out)
		}
	}
	results := filepath.Join(t.TempDir(), "results")
	must(t, os.MkdirAll(results, 0o777))
	target := deployReference(t, c, ns)

	began := time.Now()
	merged, pv := playSharded(t, c, a, ns, "e2e", target, nil, nil)
	if merged == nil {
		t.Fatal("the merge Job failed")
	}
	t.Logf("the sharded run took %v from kubectl apply to the merge Job's end", time.Since(began).Round(time.Second))
	whole := filepath.Join(t.TempDir(), "whole")
	unsharded := exec.Command(bins["surge"], "run", filepath.Join(repo, "scenarios/smoke.yaml"), "--target", target, "--seed", "1", "--out", whole, "--quiet")
	unsharded.Env = append(os.Environ(), "SURGE_ADMIN_TOKEN="+token)
	if out, err := unsharded.CombinedOutput(); err != nil {
		t.Fatalf("the unsharded run: %v\n%s", err, out)
	}
	one := readRun(t, filepath.Join(whole, "results.json"))
	if merged.Users.Arrived != one.Users.Arrived || merged.requests() != one.requests() {
		t.Errorf("merged: %d users, %d requests; unsharded: %d users, %d requests", merged.Users.Arrived, merged.requests(), one.Users.Arrived, one.requests())
	}
	t.Logf("merged: %d users, %d requests; unsharded: %d users, %d requests", merged.Users.Arrived, merged.requests(), one.Users.Arrived, one.requests())
	skew(t, a, ns, "e2e", pv)
	loseAShard(t, c, a, ns, target)
}

// loseAShard plays the run again with shard 2's process killed a few
// seconds into the timeline: its index fails (backoffLimitPerIndex 0, as
// surge k8s prints it), and the merge Job, its wait cut short by
// --merge-grace, fails naming the missing shard.
func loseAShard(t *testing.T, c *cluster, a *agent, ns, target string) {
	killed := false
	merged, _ := playSharded(t, c, a, ns, "lost", target, []string{"--drain", "10s", "--merge-grace", "10s"}, func() {
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && !killed; time.Sleep(500 * time.Millisecond) {
			pods, err := c.cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=lost,batch.kubernetes.io/job-completion-index=2"})
			if err == nil && len(pods.Items) == 1 && pods.Items[0].Status.Phase == corev1.PodRunning {
				time.Sleep(25 * time.Second) // past the common start (--start-in 20s), mid-run
				killed = a.kill(context.Background(), ns, pods.Items[0].Name)
			}
		}
	})
	if !killed {
		t.Fatal("shard 2's pod never ran, so it could not be killed")
	}
	if merged != nil {
		t.Fatal("the merge Job completed with shard 2 killed")
	}
	if log := podLog(a, ns, "lost-merge"); !strings.Contains(log, "missing 2") {
		t.Errorf("the merge Job's log does not name the missing shard:\n%s", log)
	}
	job, err := c.cs.BatchV1().Jobs(ns).Get(context.Background(), "lost", metav1.GetOptions{})
	must(t, err)
	if job.Status.FailedIndexes == nil || *job.Status.FailedIndexes != "2" {
		t.Errorf("the shards' Job says failed indexes %v, want 2", job.Status.FailedIndexes)
	}
}

// buildSurge builds surge and the reference server from the repository.
func buildSurge(t *testing.T) map[string]string {
	dir, out := t.TempDir(), map[string]string{}
	for _, name := range []string{"surge", "reference-server"} {
		out[name] = filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", out[name], "./"+map[string]string{"surge": "cmd/surge", "reference-server": "reference-server"}[name])
		cmd.Dir = repo
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", name, err, b)
		}
	}
	return out
}

// deployReference applies a Deployment of the reference server (the
// image's /reference-server, its admin token from the Secret) listening
// on a loopback port, waits until it answers, and returns its URL.
func deployReference(t *testing.T, c *cluster, ns string) string {
	port := strconv.Itoa(freePort(t))
	manifest := `apiVersion: apps/v1
kind: Deployment
metadata: {name: reference, labels: {app: reference}}
spec:
  replicas: 1
  selector: {matchLabels: {app: reference}}
  template:
    metadata: {labels: {app: reference}}
    spec:
      securityContext: {runAsNonRoot: true, runAsUser: 65532, seccompProfile: {type: RuntimeDefault}}
      containers:
        - name: reference
          image: surge:e2e
          command: [/reference-server, --addr, "127.0.0.1:` + port + `", --profile, as-built]
          env: [{name: SURGE_ADMIN_TOKEN, valueFrom: {secretKeyRef: {name: pass-admin, key: token}}}]
          securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
`
	if out, err := c.kubectl([]byte(manifest), "-n", ns, "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply the reference server: %v\n%s", err, out)
	}
	addr := "127.0.0.1:" + port
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if conn, err := net.Dial("tcp", addr); err == nil {
			conn.Close()
			return "http://" + addr
		}
	}
	out, _ := c.kubectl(nil, "-n", ns, "get", "deploy,rs,pods,events", "-o", "wide")
	t.Fatalf("the reference server's pod did not listen on %s within a minute:\n%s", addr, out)
	return ""
}

// playSharded applies surge k8s's manifests for smoke.yaml (name, against
// target, with extra flags) with kubectl, after a PersistentVolume its
// claim binds to, and waits for the merge Job to end; it returns the
// merged run when the merge Job completed, and the claim's directory.
func playSharded(t *testing.T, c *cluster, a *agent, ns, name, target string, extra []string, during func()) (*run, string) {
	pvDir := filepath.Join(t.TempDir(), "pv")
	must(t, os.MkdirAll(pvDir, 0o777))
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name + "-results"}, Spec: corev1.PersistentVolumeSpec{
		Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")},
		AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
		PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
		ClaimRef:                      &corev1.ObjectReference{Namespace: ns, Name: name + "-results"},
		PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: pvDir}},
	}}
	_, err := c.cs.CoreV1().PersistentVolumes().Create(context.Background(), pv, metav1.CreateOptions{})
	must(t, err)
	args := []string{"k8s", filepath.Join(repo, "scenarios/smoke.yaml"), "--shards", strconv.Itoa(shards), "--image", "surge:e2e", "--namespace", ns,
		"--name", name, "--target", target, "--admin-token-secret", "pass-admin", "--start-in", "20s", "--seed", "1"}
	args = append(args, extra...)
	manifests, err := exec.Command(a.bins["/surge"], args...).Output()
	if err != nil {
		t.Fatalf("surge k8s: %v", err)
	}
	if out, err := c.kubectl(manifests, "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply of surge k8s's manifests: %v\n%s", err, out)
	} else {
		t.Logf("kubectl apply:\n%s", out)
	}
	if during != nil {
		during()
	}
	job := waitJob(t, c, ns, name+"-merge", 5*time.Minute)
	t.Logf("merge Job: %d succeeded, %d failed; its log:\n%s", job.Status.Succeeded, job.Status.Failed, podLog(a, ns, name+"-merge"))
	if job.Status.Succeeded == 0 {
		return nil, pvDir
	}
	return readRun(t, filepath.Join(pvDir, name, "merged", "results.json")), pvDir
}

// waitJob waits for Job name to end (complete or failed).
func waitJob(t *testing.T, c *cluster, ns, name string, most time.Duration) *batchv1.Job {
	for deadline := time.Now().Add(most); time.Now().Before(deadline); time.Sleep(time.Second) {
		j, err := c.cs.BatchV1().Jobs(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err == nil && (j.Status.Succeeded > 0 || j.Status.Failed > 0) {
			return j
		}
	}
	t.Fatalf("the Job %s did not end within %v", name, most)
	return nil
}

// podLog is the log of the (last) pod whose name starts with prefix.
func podLog(a *agent, ns, prefix string) string {
	logs, _ := filepath.Glob(filepath.Join(a.root, ns+"_"+prefix+"-*.log"))
	if len(logs) == 0 {
		return "(none)"
	}
	return tail(logs[len(logs)-1], 4000)
}

// run is what the e2e reads of a results.json.
type run struct {
	Meta struct {
		Started time.Time `json:"started"`
		Shard   int       `json:"shard"`
		Shards  int       `json:"shards"`
	} `json:"meta"`
	Users struct {
		Arrived int `json:"arrived"`
	} `json:"users"`
	Endpoints map[string]struct {
		Total struct {
			Offered int `json:"offered"`
		} `json:"total"`
	} `json:"endpoints"`
}

func (r *run) requests() int {
	n := 0
	for _, e := range r.Endpoints {
		n += e.Total.Offered
	}
	return n
}

func readRun(t *testing.T, path string) *run {
	b, err := os.ReadFile(path)
	must(t, err)
	var r run
	must(t, json.Unmarshal(b, &r))
	return &r
}

// lateMax reads a shard's latest send from its log's "generator: sends
// late by p99 X, max Y" line (the histogram in results.json is HDR's
// compressed form, which this module does not decode).
var lateMax = regexp.MustCompile(`generator: sends late by p99 [^,]+, max ([0-9.]+[µumn]?s)`)

// skew logs how far apart the shards' pods started (the scheduler and the
// agent's poll), when each began its timeline (--start-at: the common
// start), and how late each sent at worst: the shards' sends kept one
// timeline within the spread of their starts plus the latest send.
func skew(t *testing.T, a *agent, ns, name, pv string) {
	var first, last time.Time
	a.mu.Lock()
	for pod, at := range a.byName {
		if !strings.HasPrefix(pod, name+"-") || strings.HasPrefix(pod, name+"-merge") {
			continue
		}
		if first.IsZero() || at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
	}
	a.mu.Unlock()
	var lo, hi time.Time
	var worst time.Duration
	for i := range shards {
		r := readRun(t, filepath.Join(pv, name, fmt.Sprintf("shard-%d", i), "results.json"))
		if lo.IsZero() || r.Meta.Started.Before(lo) {
			lo = r.Meta.Started
		}
		if r.Meta.Started.After(hi) {
			hi = r.Meta.Started
		}
		m := lateMax.FindStringSubmatch(podLog(a, ns, fmt.Sprintf("%s-%d", name, i)))
		if m == nil {
			t.Errorf("shard %d's log says no lateness:\n%s", i, podLog(a, ns, fmt.Sprintf("%s-%d", name, i)))
			continue
		}
		d, err := time.ParseDuration(strings.Replace(m[1], "µ", "u", 1))
		must(t, err)
		worst = max(worst, d)
	}
	t.Logf("start skew: the pods' processes started over %v; the shards began their timelines within %v of each other; the latest send of any shard was %v late: one timeline within %v",
		last.Sub(first).Round(time.Millisecond), hi.Sub(lo), worst, hi.Sub(lo)+worst)
}
