package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/surgekit/surge/reference-server/profiles"
	"github.com/surgekit/surge/reference-server/refserver"
	"github.com/surgekit/surge/scenarios/k8s"
)

// serveReference is the test binary as a reference server (as-built) on
// addr, until SIGTERM.
func serveReference(addr, token string) int {
	p, err := profiles.Load("as-built")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv, err := refserver.Start(refserver.Config{Profile: p, Seed: 1, AdminToken: token, Logger: slog.New(slog.DiscardHandler)}, addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("listening", srv.URL)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	<-sigs
	srv.Close()
	return 0
}

// netns is a set of network namespaces joined by a bridge in a hub
// namespace of their own: a pod network on this machine, touching none of
// the host's interfaces. Each member gets 10.213.0.<k>/24.
type netns struct {
	t      *testing.T
	prefix string
	next   int
}

func newNetns(t *testing.T) *netns {
	n := &netns{t: t, prefix: fmt.Sprintf("surge-%d-", os.Getpid()), next: 1}
	if os.Geteuid() != 0 {
		return nil
	}
	if err := n.ip("netns", "add", n.prefix+"hub"); err != nil {
		t.Logf("no network namespaces (%v): the shards share loopback", err)
		return nil
	}
	t.Cleanup(func() { n.ip("netns", "del", n.prefix+"hub") })
	for _, args := range [][]string{{"link", "add", "br0", "type", "bridge"}, {"link", "set", "br0", "up"}} {
		if err := n.ip(append([]string{"-n", n.prefix + "hub"}, args...)...); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

func (n *netns) ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// add makes a member namespace and returns its name and address.
func (n *netns) add(name string) (ns, addr string) {
	ns, k := n.prefix+name, n.next
	n.next++
	addr = fmt.Sprintf("10.213.0.%d", k)
	veth := fmt.Sprintf("v%d", k)
	hub := n.prefix + "hub"
	for _, args := range [][]string{
		{"netns", "add", ns},
		{"-n", hub, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"-n", hub, "link", "set", veth, "master", "br0", "up"},
		{"-n", ns, "addr", "add", addr + "/24", "dev", "eth0"},
		{"-n", ns, "link", "set", "eth0", "up"},
		{"-n", ns, "link", "set", "lo", "up"},
	} {
		if err := n.ip(args...); err != nil {
			n.t.Fatal(err)
		}
	}
	n.t.Cleanup(func() { n.ip("netns", "del", ns) })
	return ns, addr
}

// command is the test binary as surge (or a reference server) in ns
// ("": this one).
func command(ctx context.Context, ns, as string, env []string, args ...string) *exec.Cmd {
	self, _ := os.Executable()
	argv := append([]string{self}, args...)
	if ns != "" {
		argv = append([]string{"ip", "netns", "exec", ns}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(append(os.Environ(), "SURGE_TEST_AS="+as), env...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// pod plays one pod of a Job as the kubelet would: the container's args
// with $(VAR) expanded from its env, the volumes at their mount paths
// (here: the test's directories), the Secret's value in the env.
type pod struct {
	env    map[string]string
	mounts map[string]string // mount path -> directory
}

func (p pod) argv(c corev1.Container) []string {
	var out []string
	for _, a := range c.Args {
		for k, v := range p.env {
			a = strings.ReplaceAll(a, "$("+k+")", v)
		}
		for path, dir := range p.mounts {
			if a == path || strings.HasPrefix(a, path+"/") {
				a = dir + strings.TrimPrefix(a, path)
			}
		}
		out = append(out, a)
	}
	return out
}

func (p pod) environ() []string {
	var out []string
	for k, v := range p.env {
		out = append(out, k+"="+v)
	}
	return out
}

// The printed manifests, played on this machine as the Job controller and
// the kubelet would: each index a process with JOB_COMPLETION_INDEX set (in
// its own network namespace and address when the test runs as root), the
// target in another namespace, the merge Job beside them; the merged run
// is the unsharded run's users and requests, and the merge's exit is GO.
func TestIndexedJobPlayedAsPods(t *testing.T) {
	if testing.Short() {
		t.Skip("plays smoke.yaml in 4 shard processes and whole (about 30 s)")
	}
	const token, shards = "e2e-admin-token", 4
	nets := newNetns(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	targetNS, host := "", "127.0.0.1"
	_, port, _ := strings.Cut(freePort(t), ":")
	if nets != nil {
		targetNS, host = nets.add("target")
	}
	target := command(ctx, targetNS, "reference-server", []string{"SURGE_ADMIN_TOKEN=" + token}, host+":"+port)
	target.Stderr = os.Stderr
	stdout, err := target.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := target.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); target.Wait() }()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); !strings.HasPrefix(line, "listening") {
		t.Fatalf("the reference server did not start: %q, %v", line, err)
	}
	url := "http://" + host + ":" + port
	t.Logf("the target at %s (network namespaces: %v)", url, nets != nil)

	code, printed, errs := runSurge("k8s", smokeWithFault(t), "--shards", fmt.Sprint(shards), "--image", "surge:test", "--target", url,
		"--name", "e2e", "--start-in", "6s", "--compression", "3", "--drain", "30s", "--admin-token-secret", "pass-admin")
	if code != 0 {
		t.Fatalf("surge k8s: exit %d: %s", code, errs)
	}
	objs, err := k8s.Decode([]byte(printed))
	if err != nil {
		t.Fatal(err)
	}
	dirs := map[string]string{k8s.ScenarioDir: t.TempDir(), k8s.ResultsDir: t.TempDir()}
	cm := objs[0].(*corev1.ConfigMap)
	for name, data := range cm.Data {
		os.WriteFile(filepath.Join(dirs[k8s.ScenarioDir], name), []byte(data), 0o644)
	}
	jobs := []*batchv1.Job{objs[2].(*batchv1.Job), objs[3].(*batchv1.Job)}
	if code := playJobs(t, ctx, nets, jobs, dirs, map[string]string{"pass-admin": token}); code != 0 {
		t.Fatalf("the merge Job failed: exit %d", code)
	}
	// The same scenario unsharded, from a namespace of its own.
	wholeNS := ""
	if nets != nil {
		wholeNS, _ = nets.add("whole")
	}
	wholeDir := filepath.Join(t.TempDir(), "whole")
	out, err := command(ctx, wholeNS, "surge", []string{"SURGE_ADMIN_TOKEN=" + token}, "run", filepath.Join(dirs[k8s.ScenarioDir], "scenario.yaml"),
		"--target", url, "--out", wholeDir, "--quiet", "--drain", "30s").CombinedOutput()
	if err != nil {
		t.Fatalf("the unsharded run: %v\n%s", err, out)
	}
	sameDecisions(t, shards, readRun(t, wholeDir), readRun(t, filepath.Join(dirs[k8s.ResultsDir], "e2e", "merged")))
}

// playJobs starts every Job's pods at once (an Indexed Job's one per
// index) and waits for them; it returns the merge pod's exit code first.
func playJobs(t *testing.T, ctx context.Context, nets *netns, jobs []*batchv1.Job, dirs, secrets map[string]string) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var mergeCode int
	for _, j := range jobs {
		n := 1
		if j.Spec.CompletionMode != nil && *j.Spec.CompletionMode == batchv1.IndexedCompletion {
			n = int(*j.Spec.Completions)
		}
		c := j.Spec.Template.Spec.Containers[0]
		for i := range n {
			p := pod{env: map[string]string{}, mounts: dirs}
			if n > 1 {
				p.env["JOB_COMPLETION_INDEX"] = fmt.Sprint(i)
			}
			for _, e := range c.Env {
				p.env[e.Name] = secrets[e.ValueFrom.SecretKeyRef.Name]
			}
			ns := ""
			if nets != nil {
				ns, _ = nets.add(fmt.Sprintf("%s-%d", j.Name, i))
			}
			cmd := command(ctx, ns, "surge", p.environ(), p.argv(c)...)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := cmd.Run()
				code := cmd.ProcessState.ExitCode()
				mu.Lock()
				defer mu.Unlock()
				if n == 1 {
					mergeCode = code
				} else if err != nil {
					t.Errorf("pod %s-%d: %v\n%s", j.Name, i, err, out.String())
				}
				if n == 1 && code != 0 {
					t.Logf("the merge pod: exit %d\n%s", code, out.String())
				}
			}()
		}
	}
	wg.Wait()
	return mergeCode
}

// ci/k8s-e2e.sh runs the manifests on the cluster KUBECONFIG names (and,
// without KUBECONFIG, on the one ci/k8s builds here: the ci/k8s module's
// test, which ci/check.sh runs); a KUBECONFIG that reaches no cluster is
// said to be skipped, exit 0.
func TestK8sScriptSkipsWithoutAReachableCluster(t *testing.T) {
	if out, err := exec.Command("bash", "-n", "../../ci/k8s-e2e.sh").CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
	config := filepath.Join(t.TempDir(), "kubeconfig")
	os.WriteFile(config, []byte(`apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: none, user: {}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
`), 0o600)
	cmd := exec.Command("bash", "../../ci/k8s-e2e.sh")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+config)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "k8s-e2e: skipped: KUBECONFIG="+config+" does not reach a cluster") {
		t.Errorf("with a KUBECONFIG that reaches nothing: %v\n%s", err, out)
	}
}
