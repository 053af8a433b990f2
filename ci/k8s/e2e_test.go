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
)

// repo is the surge repository's root, from this package's directory.
const repo = "../.."

// shards is how many shards the e2e plays smoke.yaml in.
const shards = 4

// e2e is the cluster, its node and the namespace the runs are played in.
type e2e struct {
	c      *cluster
	n      *node
	ns     string
	target string // the reference server's URL (its pod's address)
	surge  string // surge built here, for the unsharded run
}

// TestShardedRunOnARealControlPlane: surge k8s's manifests for
// scenarios/smoke.yaml in four shards, applied with kubectl to a real API
// server (validated, defaulted and admitted there), are played by the real
// Job controller, scheduler and kubelet (containerd, runc, the image
// ci/image builds); the merge Job completes (the merged run's GO), and the
// merged run has the users and requests of the same scenario played
// unsharded, same seed, against the same reference server (a Deployment's
// pod). Then a shard whose container is killed mid-run leaves its index
// failed, and the merge Job fails naming the missing shard.
func TestShardedRunOnARealControlPlane(t *testing.T) {
	if testing.Short() {
		t.Skip("a control plane and two distributed runs: minutes")
	}
	c := startCluster(t, "node-lifecycle-controller")
	needNode(t, c)
	e := &e2e{c: c, n: startNode(t, c, map[string]string{"pause": pauseTarball(t), "surge": surgeTarball(t)}), ns: "load", surge: buildSurge(t)}
	token := randomToken(t)
	for _, args := range [][]string{{"create", "namespace", e.ns}, {"-n", e.ns, "create", "secret", "generic", "pass-admin", "--from-literal=token=" + token}} {
		if out, err := c.kubectl(nil, args...); err != nil {
			t.Fatalf("kubectl %v: %v\n%s", args[:3], err, out)
		}
	}
	e.target = e.deployReference(t)

	began := time.Now()
	merged, pv := e.playSharded(t, "e2e", nil, nil)
	if merged == nil {
		t.Fatal("the merge Job failed")
	}
	t.Logf("the sharded run took %v from kubectl apply to the merge Job's end", time.Since(began).Round(time.Second))
	whole := filepath.Join(t.TempDir(), "whole")
	unsharded := exec.Command(e.surge, "run", filepath.Join(repo, "scenarios/smoke.yaml"), "--target", e.target, "--seed", "1", "--out", whole, "--quiet")
	unsharded.Env = append(os.Environ(), "SURGE_ADMIN_TOKEN="+token)
	if out, err := unsharded.CombinedOutput(); err != nil {
		t.Fatalf("the unsharded run: %v\n%s", err, out)
	}
	one := readRun(t, filepath.Join(whole, "results.json"))
	if merged.Users.Arrived != one.Users.Arrived || merged.requests() != one.requests() {
		t.Errorf("merged: %d users, %d requests; unsharded: %d users, %d requests", merged.Users.Arrived, merged.requests(), one.Users.Arrived, one.requests())
	}
	t.Logf("merged: %d users, %d requests; unsharded: %d users, %d requests", merged.Users.Arrived, merged.requests(), one.Users.Arrived, one.requests())
	e.skew(t, "e2e", pv)
	e.loseAShard(t)
}

// loseAShard plays the run again with shard 2's container killed a few
// seconds into the timeline: its index fails (backoffLimitPerIndex 0, as
// surge k8s prints it), and the merge Job, its wait cut short by
// --merge-grace, fails naming the missing shard.
func (e *e2e) loseAShard(t *testing.T) {
	killed := false
	merged, _ := e.playSharded(t, "lost", []string{"--drain", "10s", "--merge-grace", "10s"}, func() {
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && !killed; time.Sleep(500 * time.Millisecond) {
			pods, err := e.c.cs.CoreV1().Pods(e.ns).List(context.Background(), metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=lost,batch.kubernetes.io/job-completion-index=2"})
			if err == nil && len(pods.Items) == 1 && pods.Items[0].Status.Phase == corev1.PodRunning {
				time.Sleep(25 * time.Second) // past the common start (--start-in 20s), mid-run
				killed = e.n.kill(&pods.Items[0])
			}
		}
	})
	if !killed {
		t.Fatal("shard 2's pod never ran, so it could not be killed")
	}
	if merged != nil {
		t.Fatal("the merge Job completed with shard 2 killed")
	}
	if log := e.n.podLog(e.ns, "lost-merge"); !strings.Contains(log, "missing 2") {
		t.Errorf("the merge Job's log does not name the missing shard:\n%s", log)
	}
	job, err := e.c.cs.BatchV1().Jobs(e.ns).Get(context.Background(), "lost", metav1.GetOptions{})
	must(t, err)
	if job.Status.FailedIndexes == nil || *job.Status.FailedIndexes != "2" {
		t.Errorf("the shards' Job says failed indexes %v, want 2", job.Status.FailedIndexes)
	}
}

// buildSurge builds surge here, for the unsharded run.
func buildSurge(t *testing.T) string {
	out := filepath.Join(t.TempDir(), "surge")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/surge")
	cmd.Dir = repo
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build surge: %v\n%s", err, b)
	}
	return out
}

// deployReference applies reference.yaml (a Deployment of the reference
// server, the image's /reference-server, its admin token from the Secret,
// and its Service), waits until its pod answers on its address, and
// returns its URL.
func (e *e2e) deployReference(t *testing.T) string {
	b, err := os.ReadFile("reference.yaml")
	must(t, err)
	manifest := strings.ReplaceAll(string(b), "IMAGE", surgeImage)
	if out, err := e.c.kubectl([]byte(manifest), "-n", e.ns, "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply the reference server: %v\n%s", err, out)
	}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		pods, err := e.c.cs.CoreV1().Pods(e.ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=reference"})
		if err != nil || len(pods.Items) != 1 || pods.Items[0].Status.PodIP == "" {
			continue
		}
		addr := net.JoinHostPort(pods.Items[0].Status.PodIP, "8080")
		if conn, err := net.Dial("tcp", addr); err == nil {
			conn.Close()
			return "http://" + addr
		}
	}
	out, _ := e.c.kubectl(nil, "-n", e.ns, "get", "deploy,rs,pods,events", "-o", "wide")
	t.Fatalf("the reference server's pod did not answer within a minute:\n%s", out)
	return ""
}

// playSharded applies surge k8s's manifests for smoke.yaml (name, with
// extra flags) with kubectl, after a hostPath PersistentVolume its claim
// binds to, calls during (if any), and waits for the merge Job to end; it
// returns the merged run when the merge Job completed, and the volume's
// directory.
func (e *e2e) playSharded(t *testing.T, name string, extra []string, during func()) (*run, string) {
	pvDir := filepath.Join(t.TempDir(), "pv")
	must(t, os.MkdirAll(pvDir, 0o777))
	must(t, os.Chmod(pvDir, 0o777)) // the shards run as 65532, and a hostPath volume gets no fsGroup
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name + "-results"}, Spec: corev1.PersistentVolumeSpec{
		Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")},
		AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
		PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
		ClaimRef:                      &corev1.ObjectReference{Namespace: e.ns, Name: name + "-results"},
		PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: pvDir}},
	}}
	_, err := e.c.cs.CoreV1().PersistentVolumes().Create(context.Background(), pv, metav1.CreateOptions{})
	must(t, err)
	args := append([]string{"k8s", filepath.Join(repo, "scenarios/smoke.yaml"), "--shards", strconv.Itoa(shards), "--image", surgeImage, "--namespace", e.ns,
		"--name", name, "--target", e.target, "--admin-token-secret", "pass-admin", "--start-in", "20s", "--seed", "1",
		"--cpu", "200m"}, extra...) // (at the default 1 CPU a shard, two of the four fit this 2-core node at once: the others started minutes late)
	manifests, err := exec.Command(e.surge, args...).Output()
	if err != nil {
		t.Fatalf("surge k8s: %v", err)
	}
	if out, err := e.c.kubectl(manifests, "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply of surge k8s's manifests: %v\n%s", err, out)
	} else {
		t.Logf("kubectl apply:\n%s", out)
	}
	if during != nil {
		during()
	}
	job := e.waitJob(t, name+"-merge", 5*time.Minute)
	t.Logf("merge Job: %d succeeded, %d failed; its log:\n%s", job.Status.Succeeded, job.Status.Failed, e.n.podLog(e.ns, name+"-merge"))
	if job.Status.Succeeded == 0 {
		return nil, pvDir
	}
	return readRun(t, filepath.Join(pvDir, name, "merged", "results.json")), pvDir
}

// waitJob waits for Job name to end (complete or failed).
func (e *e2e) waitJob(t *testing.T, name string, most time.Duration) *batchv1.Job {
	for deadline := time.Now().Add(most); time.Now().Before(deadline); time.Sleep(time.Second) {
		j, err := e.c.cs.BatchV1().Jobs(e.ns).Get(context.Background(), name, metav1.GetOptions{})
		if err == nil && (j.Status.Succeeded > 0 || j.Status.Failed > 0) {
			return j
		}
	}
	out, _ := e.c.kubectl(nil, "-n", e.ns, "get", "jobs,pods,pvc,events", "-o", "wide")
	t.Fatalf("the Job %s did not end within %v:\n%s", name, most, out)
	return nil
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

// skew logs how far apart the shards' containers started (the API's
// seconds), when each began its timeline (--start-at: the common start),
// and how late each sent at worst: the shards' sends kept one timeline
// within the spread of their starts plus the latest send.
func (e *e2e) skew(t *testing.T, name, pv string) {
	pods, err := e.c.cs.CoreV1().Pods(e.ns).List(context.Background(), metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + name})
	must(t, err)
	var first, last time.Time
	for _, p := range pods.Items {
		for _, cs := range p.Status.ContainerStatuses {
			if term := cs.State.Terminated; term != nil {
				if at := term.StartedAt.Time; first.IsZero() || at.Before(first) {
					first = at
				}
				last = maxTime(last, term.StartedAt.Time)
			}
		}
	}
	var lo, hi time.Time
	var worst time.Duration
	for i := range shards {
		r := readRun(t, filepath.Join(pv, name, fmt.Sprintf("shard-%d", i), "results.json"))
		if lo.IsZero() || r.Meta.Started.Before(lo) {
			lo = r.Meta.Started
		}
		hi = maxTime(hi, r.Meta.Started)
		log := e.n.podLog(e.ns, fmt.Sprintf("%s-%d", name, i))
		m := lateMax.FindStringSubmatch(log)
		if m == nil {
			t.Errorf("shard %d's log says no lateness:\n%s", i, log)
			continue
		}
		d, err := time.ParseDuration(strings.Replace(m[1], "µ", "u", 1))
		must(t, err)
		worst = max(worst, d)
	}
	t.Logf("start skew: the shards' containers started within %v of each other (the API's whole seconds); they began their timelines within %v of each other; the latest send of any shard was %v late: one timeline within %v",
		last.Sub(first), hi.Sub(lo), worst, hi.Sub(lo)+worst)
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
