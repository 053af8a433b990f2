// Package k8s proves surge's Kubernetes manifests on a real cluster
// started on loopback: Debian's etcd; kube-apiserver,
// kube-controller-manager (the Job, Deployment, ReplicaSet, garbage
// collector, TTL, service account, root CA, volume binding and node
// lifecycle controllers), kube-scheduler and a kubelet built from the
// k8s.io/kubernetes module (build.sh); the kubelet on Debian's containerd
// and runc, its pods on a CNI bridge (Debian's containernetworking-plugins),
// running the image ci/image builds, imported into containerd (no
// registry), with a pause image built here (registry.k8s.io is out of
// reach). One concession to this VM: it refuses a process lowering its
// oom_score_adj (runc: "failed to update /proc/self/oom_score_adj:
// Permission denied" for the pod sandbox's -998; podman's crun was refused
// setrlimit the same way), so containerd is told restrict_oom_score_adj.
// Service routing (kube-proxy) and cluster DNS are not run: the shards
// reach the reference server at its pod's address.
//
// Threat model: the control plane and the kubelet listen on 127.0.0.1
// only, and the pods on a bridge of their own (10.244.0.0/24, no masquerade:
// they reach nothing beyond this machine); the API server's
// one identity is a random bearer token written to a file in the test's
// temporary directory (mode 0600) and given to kubectl through a
// kubeconfig beside it; nothing of it reaches a run directory or a log.
package k8s

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// cluster is a control plane running on loopback for one test.
type cluster struct {
	dir        string // its files: etcd's data, certificates, keys, logs
	bin        string // the control plane's binaries (build.sh's cache)
	server     string // the API server's URL
	kubeconfig string
	cs         *kubernetes.Clientset
	ports      map[int]bool // given out by port
	exited     map[string]chan struct{}
}

// binDir is build.sh's cache of the control plane's binaries; the test
// skips, saying how to build them, when they are not there (ci/k8s-e2e.sh
// builds them first).
func binDir(t *testing.T) string {
	dir := os.Getenv("SURGE_K8S_BIN")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "surge-k8s", "v1.34.2", "bin")
	}
	absent := t.Skipf
	if os.Getenv("SURGE_REQUIRE_K8S") != "" { // .ci/run: installed first, so absent is a failure
		absent = t.Fatalf
	}
	for _, b := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			absent("no %s in %s: bash ci/k8s/build.sh builds the control plane (ci/k8s-e2e.sh does it first)", b, dir)
		}
	}
	if _, err := exec.LookPath("etcd"); err != nil {
		absent("no etcd: bash ci/install-deb.sh etcd etcd-server installs Debian's (ci/k8s-e2e.sh does it first)")
	}
	return dir
}

// port is a loopback port free a moment ago and not given out before in
// this cluster: the processes bind theirs a moment after they start, so a
// port the kernel hands out again meanwhile (it did: etcd's peer port and
// the API server's) must not be taken twice.
func (c *cluster) port(t *testing.T) int {
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !c.ports[p] {
			c.ports[p] = true
			return p
		}
	}
}

// startCluster starts etcd, the API server, the controller manager and
// the scheduler, and waits until the API server is ready; all of them
// stop when the test ends. more are controllers to run besides the
// Job's and those it needs (the node lifecycle controller, for a real
// kubelet's node).
func startCluster(t *testing.T, more ...string) *cluster {
	c := &cluster{dir: t.TempDir(), bin: binDir(t), ports: map[int]bool{}, exited: map[string]chan struct{}{}}
	token := randomToken(t)
	must(t, os.WriteFile(filepath.Join(c.dir, "tokens.csv"), []byte(token+",admin,admin-uid,system:masters\n"), 0o600))
	writeServiceAccountKey(t, c.dir)
	etcdPort, peerPort, apiPort := c.port(t), c.port(t), c.port(t)
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdPort)
	c.start(t, "etcd", "etcd", "--name", "e2e", "--data-dir", filepath.Join(c.dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", peerPort),
		"--initial-advertise-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", peerPort),
		"--initial-cluster", fmt.Sprintf("e2e=http://127.0.0.1:%d", peerPort))
	c.server = fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	c.start(t, "kube-apiserver", filepath.Join(c.bin, "kube-apiserver"),
		"--etcd-servers", etcdURL, "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(apiPort), "--cert-dir", filepath.Join(c.dir, "certs"),
		"--token-auth-file", filepath.Join(c.dir, "tokens.csv"), "--authorization-mode", "Node,RBAC",
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-account-key-file", filepath.Join(c.dir, "sa.pub"),
		"--service-account-signing-key-file", filepath.Join(c.dir, "sa.key"),
		"--service-cluster-ip-range", "10.96.0.0/16")
	c.kubeconfig = filepath.Join(c.dir, "kubeconfig")
	must(t, os.WriteFile(c.kubeconfig, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: e2e, cluster: {server: %q, insecure-skip-tls-verify: true}}]
users: [{name: admin, user: {token: %q}}]
contexts: [{name: e2e, context: {cluster: e2e, user: admin}}]
current-context: e2e
`, c.server, token)), 0o600))
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: c.server, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{Insecure: true}, QPS: 50, Burst: 100})
	must(t, err)
	c.cs = cs
	c.waitReady(t)
	c.start(t, "kube-controller-manager", filepath.Join(c.bin, "kube-controller-manager"),
		"--kubeconfig", c.kubeconfig, "--leader-elect=false", "--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(c.port(t)),
		"--controllers", strings.Join(append([]string{"job-controller", "ttl-after-finished-controller", "garbage-collector-controller", "serviceaccount-token-controller",
			"serviceaccount-controller", "deployment-controller", "replicaset-controller", "persistentvolume-binder-controller",
			"root-ca-certificate-publisher-controller"}, more...), ","),
		"--service-account-private-key-file", filepath.Join(c.dir, "sa.key"),
		"--root-ca-file", filepath.Join(c.dir, "certs", "apiserver.crt"))
	c.start(t, "kube-scheduler", filepath.Join(c.bin, "kube-scheduler"),
		"--kubeconfig", c.kubeconfig, "--leader-elect=false", "--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(c.port(t)))
	return c
}

// start runs a control-plane process, its output to dir/name.log, killed
// when the test ends.
func (c *cluster) start(t *testing.T, name, bin string, args ...string) {
	log, err := os.Create(filepath.Join(c.dir, name+".log"))
	must(t, err)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	must(t, cmd.Start())
	exited := make(chan struct{})
	c.exited[name] = exited
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		log.Close()
		if t.Failed() {
			t.Logf("%s's log ends:\n%s", name, tail(filepath.Join(c.dir, name+".log"), 3000))
			if keep := os.Getenv("SURGE_K8S_LOGS"); keep != "" { // the whole logs, to read after the test
				os.MkdirAll(keep, 0o755)
				os.Rename(filepath.Join(c.dir, name+".log"), filepath.Join(keep, name+".log"))
			}
		}
	})
}

// waitReady waits for the API server's /readyz (a minute at most).
func (c *cluster) waitReady(t *testing.T) {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-c.exited["kube-apiserver"]:
			t.Fatalf("the API server exited:\n%s", tail(filepath.Join(c.dir, "kube-apiserver.log"), 3000))
		default:
		}
		body, err := c.cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(context.Background())
		if err == nil && bytes.Equal(body, []byte("ok")) {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("the API server was not ready within a minute:\n%s", tail(filepath.Join(c.dir, "kube-apiserver.log"), 3000))
}

// kubectl runs the cache's kubectl against the cluster with stdin in.
func (c *cluster) kubectl(in []byte, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(c.bin, "kubectl"), append([]string{"--kubeconfig", c.kubeconfig}, args...)...)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func randomToken(t *testing.T) string {
	b := make([]byte, 24)
	_, err := rand.Read(b)
	must(t, err)
	return hex.EncodeToString(b)
}

// writeServiceAccountKey writes the key pair service account tokens are
// signed with (sa.key, sa.pub).
func writeServiceAccountKey(t *testing.T, dir string) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	must(t, err)
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "sa.key"), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644))
}

// tail is the last n bytes of a file.
func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
