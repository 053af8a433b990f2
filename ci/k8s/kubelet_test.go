package k8s

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// pauseImage is the name containerd's CRI gives the pod sandbox image.
const pauseImage = "registry.k8s.io/pause:3.10"

// surgeImage is ci/image's image as the e2e's pods name it.
const surgeImage = "docker.io/library/surge:e2e"

// node is a real kubelet on containerd and runc (Debian's), pods on a CNI
// bridge (Debian's containernetworking-plugins), registered as node-1.
type node struct {
	dir   string // its state: containerd's, the kubelet's, the CNI's
	sock  string // containerd's socket
	logs  string // the kubelet's pod logs (podLogsDir)
	netns []string
}

// haveRuntime says why the real node cannot run here ("" when it can):
// containerd, runc, the CNI plugins and root.
func haveRuntime(bin string) string {
	for _, b := range []string{"containerd", "ctr", "runc"} {
		if _, err := exec.LookPath(b); err != nil {
			return "no " + b + " (bash ci/install-deb.sh " + b + " " + b + ")"
		}
	}
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		return "no CNI bridge plugin (bash ci/install-deb.sh /usr/lib/cni/bridge containernetworking-plugins)"
	}
	if _, err := os.Stat(filepath.Join(bin, "kubelet")); err != nil {
		return "no kubelet in " + bin + " (bash ci/k8s/build.sh)"
	}
	if os.Geteuid() != 0 {
		return "not root (a kubelet and containerd need it)"
	}
	return ""
}

// needNode skips the test when the real node cannot run here (fails it
// under SURGE_REQUIRE_K8S: .ci/run installed what it needs first).
func needNode(t *testing.T, c *cluster) {
	if why := haveRuntime(c.bin); why != "" {
		if os.Getenv("SURGE_REQUIRE_K8S") != "" {
			t.Fatal("no real node here: " + why)
		}
		t.Skip("no real node here: " + why)
	}
}

// startNode starts containerd (its state in the test's directory, the
// sandbox image and the surge image imported), a CNI bridge network
// 10.244.0.0/24, and a kubelet registering node-1 with the cluster.
func startNode(t *testing.T, c *cluster, images map[string]string) *node {
	dir, err := os.MkdirTemp("", "knode") // short: a unix socket's path is at most 107 bytes
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	n := &node{dir: dir, sock: filepath.Join(dir, "containerd.sock"), logs: filepath.Join(dir, "pods")}
	before := map[string]bool{}
	if entries, err := os.ReadDir("/run/netns"); err == nil {
		for _, e := range entries {
			before[e.Name()] = true
		}
	}
	cni := filepath.Join(dir, "net.d")
	must(t, os.MkdirAll(cni, 0o755))
	must(t, os.WriteFile(filepath.Join(cni, "10-e2e.conflist"), []byte(`{"cniVersion": "1.0.0", "name": "e2e", "plugins": [
  {"type": "bridge", "bridge": "e2e0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "`+filepath.Join(dir, "ipam")+`", "ranges": [[{"subnet": "10.244.0.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}`), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "containerd.toml"), []byte(fmt.Sprintf(`version = 2
root = %q
state = %q
[grpc]
  address = %q
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  # This VM refuses a process lowering its oom_score_adj (runc's "failed to
  # update /proc/self/oom_score_adj: Permission denied" for the sandbox's
  # -998): no score below containerd's own.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), n.sock, pauseImage, cni)), 0o644))
	c.start(t, "containerd", "containerd", "--config", filepath.Join(dir, "containerd.toml"))
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(n.sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("containerd did not listen within 30 s")
		}
	}
	t.Cleanup(func() { // before containerd stops (cleanups run last first)
		n.netns = n.sandboxes(before)
		n.teardown(t)
	})
	for name, tarball := range images {
		if out, err := exec.Command("ctr", "--address", n.sock, "-n", "k8s.io", "images", "import", tarball).CombinedOutput(); err != nil {
			t.Fatalf("ctr images import %s: %v\n%s", name, err, out)
		}
	}
	port, health := c.port(t), c.port(t)
	must(t, os.WriteFile(filepath.Join(dir, "kubelet.yaml"), []byte(fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: %d
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: %d
authentication: {anonymous: {enabled: false}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
failCgroupV1: false
containerRuntimeEndpoint: unix://%s
evictionHard: {memory.available: "1Mi", nodefs.available: "1%%", imagefs.available: "1%%", nodefs.inodesFree: "1%%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
localStorageCapacityIsolation: false
makeIPTablesUtilChains: false
serializeImagePulls: false
podLogsDir: %s
`, port, health, n.sock, n.logs)), 0o644))
	c.start(t, "kubelet", filepath.Join(c.bin, "kubelet"), "--config", filepath.Join(dir, "kubelet.yaml"), "--kubeconfig", c.kubeconfig,
		"--hostname-override", "node-1", "--root-dir", filepath.Join(dir, "kubelet"), "--cert-dir", filepath.Join(dir, "pki"))
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(500 * time.Millisecond) {
		nd, err := c.cs.CoreV1().Nodes().Get(context.Background(), "node-1", metav1.GetOptions{})
		if err == nil && ready(nd) && len(nd.Spec.Taints) == 0 {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("node-1 was not ready and untainted within a minute (%v)", err)
		}
	}
}

// ctr runs ctr against the node's containerd, in the CRI's namespace.
func (n *node) ctr(args ...string) ([]byte, error) {
	return exec.Command("ctr", append([]string{"--address", n.sock, "-n", "k8s.io"}, args...)...).CombinedOutput()
}

// teardown kills every container the node runs (their shims outlive
// containerd otherwise) and removes its bridge.
func (n *node) teardown(t *testing.T) {
	out, _ := n.ctr("tasks", "ls", "-q")
	for _, id := range strings.Fields(string(out)) {
		n.ctr("tasks", "kill", "-s", "SIGKILL", id)
	}
	time.Sleep(time.Second)
	for _, id := range strings.Fields(string(out)) {
		n.ctr("tasks", "delete", "-f", id)
	}
	if b, err := exec.Command("ip", "link", "del", "e2e0").CombinedOutput(); err != nil {
		t.Logf("ip link del e2e0: %v %s", err, b)
	}
	// What the kubelet and the CRI mounted (volumes, the pods' network
	// namespaces) goes too, last mounted first.
	mounts, _ := os.ReadFile("/proc/self/mounts")
	lines := strings.Split(string(mounts), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		f := strings.Fields(lines[i])
		if len(f) > 1 && (strings.HasPrefix(f[1], n.dir+"/") || slices.Contains(n.netns, filepath.Base(f[1])) && strings.HasPrefix(f[1], "/run/netns/")) {
			exec.Command("umount", "-l", f[1]).Run()
			if strings.HasPrefix(f[1], "/run/netns/") {
				os.Remove(f[1])
			}
		}
	}
}

// sandboxes are the pod network namespaces the CRI made for this node's
// pods: those under /run/netns that were not there before it started.
func (n *node) sandboxes(before map[string]bool) []string {
	var out []string
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		if !before[e.Name()] {
			out = append(out, e.Name())
		}
	}
	return out
}

// kill kills the container of pod (SIGKILL, as the OOM killer or a lost
// node does), and says whether it could.
func (n *node) kill(pod *corev1.Pod) bool {
	if len(pod.Status.ContainerStatuses) == 0 {
		return false
	}
	id := strings.TrimPrefix(pod.Status.ContainerStatuses[0].ContainerID, "containerd://")
	_, err := n.ctr("tasks", "kill", "-s", "SIGKILL", id)
	return id != "" && err == nil
}

// podLog is the kubelet's log of the (last) pod of namespace ns whose
// name starts with prefix, without the CRI's time and stream prefix.
func (n *node) podLog(ns, prefix string) string {
	logs, _ := filepath.Glob(filepath.Join(n.logs, ns+"_"+prefix+"-*", "*", "*.log"))
	if len(logs) == 0 {
		return "(none)"
	}
	b, _ := os.ReadFile(logs[len(logs)-1])
	var out strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if f := strings.SplitN(line, " ", 4); len(f) == 4 {
			out.WriteString(f[3] + "\n")
		}
	}
	return out.String()
}

func ready(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// pauseTarball builds the pause command static and packs it as a
// docker-archive image named pauseImage, for ctr images import.
func pauseTarball(t *testing.T) string {
	dir := t.TempDir()
	bin := filepath.Join(dir, "pause")
	build := exec.Command("go", "build", "-o", bin, "./pause")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./pause: %v\n%s", err, out)
	}
	exe, err := os.ReadFile(bin)
	must(t, err)
	var layer bytes.Buffer
	lw := tar.NewWriter(&layer)
	must(t, lw.WriteHeader(&tar.Header{Name: "pause", Mode: 0o755, Size: int64(len(exe)), Typeflag: tar.TypeReg}))
	_, err = lw.Write(exe)
	must(t, err)
	must(t, lw.Close())
	sum := sha256.Sum256(layer.Bytes())
	config, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Entrypoint": []string{"/pause"}, "User": "65535:65535"},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + hex.EncodeToString(sum[:])}}})
	manifest, _ := json.Marshal([]map[string]any{{"Config": "config.json", "RepoTags": []string{pauseImage}, "Layers": []string{"layer.tar"}}})
	out := filepath.Join(dir, "pause.tar")
	f, err := os.Create(out)
	must(t, err)
	defer f.Close()
	tw := tar.NewWriter(f)
	for _, e := range []struct {
		name string
		b    []byte
	}{{"layer.tar", layer.Bytes()}, {"config.json", config}, {"manifest.json", manifest}} {
		must(t, tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.b)), Typeflag: tar.TypeReg}))
		_, err := tw.Write(e.b)
		must(t, err)
	}
	must(t, tw.Close())
	return out
}

// surgeTarball builds ci/image's image of this repository, named surgeImage.
func surgeTarball(t *testing.T) string {
	out := filepath.Join(t.TempDir(), "surge.tar")
	cmd := exec.Command("go", "run", "./ci/image", "-o", out, "-tag", surgeImage)
	cmd.Dir = repo
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run ./ci/image: %v\n%s", err, b)
	}
	return out
}

// TestKubeletRunsAPod: the real node runs a pod of the surge image to
// completion (a quick check of the runtime before the e2e relies on it).
func TestKubeletRunsAPod(t *testing.T) {
	c := startCluster(t, "node-lifecycle-controller")
	needNode(t, c)
	startNode(t, c, map[string]string{"pause": pauseTarball(t), "surge": surgeTarball(t)})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "version", Namespace: "default"}, Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
		Containers: []corev1.Container{{Name: "surge", Image: surgeImage, ImagePullPolicy: corev1.PullNever, Args: []string{"version"}}}}}
	_, err := c.cs.CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{})
	must(t, err)
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		p, err := c.cs.CoreV1().Pods("default").Get(context.Background(), "version", metav1.GetOptions{})
		if err == nil && (p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed) {
			if p.Status.Phase != corev1.PodSucceeded {
				t.Fatalf("the pod %s: %+v", p.Status.Phase, p.Status.ContainerStatuses)
			}
			return
		}
	}
	p, _ := c.cs.CoreV1().Pods("default").Get(context.Background(), "version", metav1.GetOptions{})
	t.Fatalf("the pod did not finish within 2 minutes: %s %+v %s", p.Status.Phase, p.Status.ContainerStatuses, strconv.Quote(strings.Join(nil, "")))
}
