package k8s

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/kubernetes/third_party/forked/golang/expansion"
)

// agent stands in for a kubelet: it registers a Node, watches the real API
// server for the pods the real scheduler bound to it, and runs each pod's
// one container as a process on this machine, reporting its status back
// (Running, then Succeeded or Failed with the exit code), as a kubelet
// does; a pod being deleted has its process killed and is then deleted.
//
// What is real: the pod as the API server admitted and defaulted it, its
// environment as a kubelet builds it (values, $(VAR) references expanded
// by the kubelet's own expansion package, Secret keys, the downward API's
// fields and annotations: JOB_COMPLETION_INDEX from the Job controller's
// annotation), its ConfigMap, Secret and emptyDir volumes written out, and
// a claim's volume as the PersistentVolume the binder bound it to.
//
// What is not: no container runtime (this VM refuses one), so there are
// no namespaces: the image is a name for a set of binaries built from this
// repository (images), a volume's mount path is rewritten to its directory
// in the arguments and environment values that name it, every pod shares
// the host's loopback network (no CNI, no Service routing: a target is a
// loopback address), runAsUser and the resource limits are not enforced,
// and there are no probes and no restarts.
type agent struct {
	cs     kubernetes.Interface
	node   string
	root   string              // pods' directories and logs
	images map[string][]string // image -> its entrypoint (argv)
	bins   map[string]string   // a path in the image -> the binary here

	mu      sync.Mutex
	running map[types.UID]*exec.Cmd
	started map[types.UID]time.Time // when each pod's process started
	byName  map[string]time.Time    // the same by the pod's name
}

// register creates the agent's Node, ready, with room for the test's pods.
func (a *agent) register(ctx context.Context) error {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: a.node, Labels: map[string]string{"kubernetes.io/hostname": a.node, "kubernetes.io/os": "linux"}}}
	n, err := a.cs.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	room := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("64"), corev1.ResourceMemory: resource.MustParse("256Gi"), corev1.ResourcePods: resource.MustParse("110")}
	n.Status = corev1.NodeStatus{Capacity: room, Allocatable: room,
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "AgentReady", LastHeartbeatTime: metav1.Now()}},
		Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}, {Type: corev1.NodeHostName, Address: a.node}}}
	if n, err = a.cs.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		return err
	}
	// The API server's TaintNodesByCondition admission taints a new node
	// not-ready; the node lifecycle controller lifts it once the node says
	// it is ready. That controller is not run here (it would want the
	// kubelet's heartbeats), so the agent lifts it.
	n.Spec.Taints = nil
	_, err = a.cs.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
	return err
}

// run polls the pods bound to the node every 200 ms until ctx ends, then
// kills what it started.
func (a *agent) run(ctx context.Context, t *testing.T) {
	defer a.killAll()
	for ctx.Err() == nil {
		pods, err := a.cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + a.node})
		if err == nil {
			for i := range pods.Items {
				a.sync(ctx, t, &pods.Items[i])
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// sync starts a new pod's process, or kills a deleted one's and deletes
// the pod.
func (a *agent) sync(ctx context.Context, t *testing.T, pod *corev1.Pod) {
	a.mu.Lock()
	cmd, known := a.running[pod.UID]
	_, ever := a.started[pod.UID]
	a.mu.Unlock()
	if pod.DeletionTimestamp != nil {
		if known && cmd.Process != nil {
			cmd.Process.Kill()
		}
		zero := int64(0)
		a.cs.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
		return
	}
	if ever || pod.Status.Phase != corev1.PodPending {
		return
	}
	if err := a.start(ctx, pod); err != nil {
		t.Logf("agent: pod %s/%s could not start: %v", pod.Namespace, pod.Name, err)
		a.finish(ctx, pod, 128, "StartError", err.Error())
	}
}

// start runs pod's container as a process and reports it Running.
func (a *agent) start(ctx context.Context, pod *corev1.Pod) error {
	a.mu.Lock()
	a.started[pod.UID] = time.Now()
	a.byName[pod.Name] = a.started[pod.UID]
	a.mu.Unlock()
	if len(pod.Spec.Containers) != 1 || len(pod.Spec.InitContainers) > 0 {
		return errors.New("the agent runs pods of one container and no init containers")
	}
	c := pod.Spec.Containers[0]
	dir := filepath.Join(a.root, pod.Namespace+"_"+pod.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	mounts, err := a.volumes(ctx, pod, dir)
	if err != nil {
		return err
	}
	env, err := a.env(ctx, pod, c)
	if err != nil {
		return err
	}
	argv, err := a.argv(c, env)
	if err != nil {
		return err
	}
	for i := range argv {
		argv[i] = rewrite(argv[i], mounts)
	}
	log, err := os.Create(filepath.Join(a.root, pod.Namespace+"_"+pod.Name+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, log, log
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	for _, name := range env.order {
		cmd.Env = append(cmd.Env, name+"="+rewrite(env.values[name], mounts))
	}
	if err := cmd.Start(); err != nil {
		log.Close()
		return err
	}
	a.mu.Lock()
	a.running[pod.UID] = cmd
	a.mu.Unlock()
	began := metav1.Now()
	a.setStatus(ctx, pod, func(s *corev1.PodStatus) {
		s.Phase, s.HostIP, s.PodIP, s.StartTime = corev1.PodRunning, "127.0.0.1", "127.0.0.1", &began
		s.PodIPs, s.HostIPs = []corev1.PodIP{{IP: "127.0.0.1"}}, []corev1.HostIP{{IP: "127.0.0.1"}}
		s.Conditions = conditions(corev1.ConditionTrue)
		s.ContainerStatuses = []corev1.ContainerStatus{{Name: c.Name, Image: c.Image, ImageID: c.Image, Ready: true, Started: ptr(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: began}}}}
	})
	go func() {
		err := cmd.Wait()
		log.Close()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			if code = exit.ExitCode(); code < 0 {
				code = 137 // killed by a signal, as a runtime reports SIGKILL
			}
		}
		reason := map[bool]string{true: "Completed", false: "Error"}[code == 0]
		a.finish(context.Background(), pod, int32(code), reason, "")
	}()
	return nil
}

// finish reports pod's container terminated with code: the pod
// Succeeded (0) or Failed.
func (a *agent) finish(ctx context.Context, pod *corev1.Pod, code int32, reason, message string) {
	now := metav1.Now()
	a.setStatus(ctx, pod, func(s *corev1.PodStatus) {
		s.Phase = corev1.PodFailed
		if code == 0 {
			s.Phase = corev1.PodSucceeded
		}
		s.Conditions = conditions(corev1.ConditionFalse)
		started := now
		if s.StartTime != nil {
			started = *s.StartTime
		}
		c := pod.Spec.Containers[0]
		s.ContainerStatuses = []corev1.ContainerStatus{{Name: c.Name, Image: c.Image, ImageID: c.Image, Started: ptr(false),
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, Message: message, StartedAt: started, FinishedAt: now}}}}
	})
}

// setStatus changes pod's status as the API server has it now, retrying
// on a conflict.
func (a *agent) setStatus(ctx context.Context, pod *corev1.Pod, change func(*corev1.PodStatus)) {
	retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := a.cs.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		change(&cur.Status)
		_, err = a.cs.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
}

func conditions(ready corev1.ConditionStatus) []corev1.PodCondition {
	now := metav1.Now()
	var out []corev1.PodCondition
	for _, c := range []struct {
		t corev1.PodConditionType
		s corev1.ConditionStatus
	}{{corev1.PodScheduled, corev1.ConditionTrue}, {corev1.PodInitialized, corev1.ConditionTrue}, {corev1.ContainersReady, ready}, {corev1.PodReady, ready}} {
		out = append(out, corev1.PodCondition{Type: c.t, Status: c.s, LastTransitionTime: now})
	}
	return out
}

// killAll kills every process the agent started.
func (a *agent) killAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, cmd := range a.running {
		if cmd.Process != nil {
			cmd.Process.Kill()
		}
	}
}

// kill kills the process of the pod named name (a shard lost), and says
// whether there was one.
func (a *agent) kill(ctx context.Context, namespace, name string) bool {
	pod, err := a.cs.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false
	}
	a.mu.Lock()
	cmd := a.running[pod.UID]
	a.mu.Unlock()
	return cmd != nil && cmd.Process != nil && cmd.Process.Kill() == nil
}

// podEnv is a container's environment in its order, resolved.
type podEnv struct {
	order  []string
	values map[string]string
}

// env resolves c's environment as a kubelet does: each value with the
// $(VAR) references to the variables before it expanded, Secret and
// ConfigMap keys, and the downward API's pod fields.
func (a *agent) env(ctx context.Context, pod *corev1.Pod, c corev1.Container) (podEnv, error) {
	out := podEnv{values: map[string]string{}}
	for _, e := range c.Env {
		v := expansion.Expand(e.Value, expansion.MappingFuncFor(out.values))
		if from := e.ValueFrom; from != nil {
			var err error
			if v, err = a.valueFrom(ctx, pod, from); err != nil {
				return out, fmt.Errorf("env %s: %w", e.Name, err)
			}
		}
		if _, seen := out.values[e.Name]; !seen {
			out.order = append(out.order, e.Name)
		}
		out.values[e.Name] = v
	}
	return out, nil
}

func (a *agent) valueFrom(ctx context.Context, pod *corev1.Pod, from *corev1.EnvVarSource) (string, error) {
	switch {
	case from.SecretKeyRef != nil:
		s, err := a.cs.CoreV1().Secrets(pod.Namespace).Get(ctx, from.SecretKeyRef.Name, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		v, ok := s.Data[from.SecretKeyRef.Key]
		if !ok {
			return "", fmt.Errorf("secret %s has no key %s", from.SecretKeyRef.Name, from.SecretKeyRef.Key)
		}
		return string(v), nil
	case from.ConfigMapKeyRef != nil:
		m, err := a.cs.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, from.ConfigMapKeyRef.Name, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		return m.Data[from.ConfigMapKeyRef.Key], nil
	case from.FieldRef != nil:
		return fieldOf(pod, from.FieldRef.FieldPath)
	}
	return "", errors.New("the agent resolves Secret and ConfigMap keys and pod fields only")
}

// fieldOf is a downward API field of pod.
func fieldOf(pod *corev1.Pod, path string) (string, error) {
	for prefix, m := range map[string]map[string]string{"metadata.annotations['": pod.Annotations, "metadata.labels['": pod.Labels} {
		if key, ok := strings.CutPrefix(path, prefix); ok {
			return m[strings.TrimSuffix(key, "']")], nil
		}
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "status.podIP", "status.hostIP":
		return "127.0.0.1", nil
	}
	return "", fmt.Errorf("field %s: not one the agent resolves", path)
}

// argv is c's command line: its command or the image's entrypoint, then
// its args, with $(VAR) expanded, and the image's path of the binary
// replaced by the binary built here.
func (a *agent) argv(c corev1.Container, env podEnv) ([]string, error) {
	argv := c.Command
	if len(argv) == 0 {
		entry, ok := a.images[c.Image]
		if !ok {
			return nil, fmt.Errorf("image %s: not one the agent knows", c.Image)
		}
		argv = entry
	}
	argv = append(append([]string{}, argv...), c.Args...)
	mapping := expansion.MappingFuncFor(env.values)
	for i := range argv {
		argv[i] = expansion.Expand(argv[i], mapping)
	}
	bin, ok := a.bins[argv[0]]
	if !ok {
		return nil, fmt.Errorf("%s: not a binary of image %s", argv[0], c.Image)
	}
	argv[0] = bin
	return argv, nil
}

// volumes writes pod's volumes out under dir and returns each mount path
// of its container with the directory it stands for.
func (a *agent) volumes(ctx context.Context, pod *corev1.Pod, dir string) (map[string]string, error) {
	at := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		path := filepath.Join(dir, "volumes", v.Name)
		var err error
		switch {
		case v.ConfigMap != nil:
			var m *corev1.ConfigMap
			if m, err = a.cs.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, v.ConfigMap.Name, metav1.GetOptions{}); err == nil {
				err = writeFiles(path, m.Data, nil)
			}
		case v.Secret != nil:
			var s *corev1.Secret
			if s, err = a.cs.CoreV1().Secrets(pod.Namespace).Get(ctx, v.Secret.SecretName, metav1.GetOptions{}); err == nil {
				err = writeFiles(path, nil, s.Data)
			}
		case v.PersistentVolumeClaim != nil:
			path, err = a.claimPath(ctx, pod.Namespace, v.PersistentVolumeClaim.ClaimName)
		case v.EmptyDir != nil, v.Projected != nil: // (the service account's token: nothing here reads it)
			err = os.MkdirAll(path, 0o755)
		default:
			err = fmt.Errorf("volume %s: a kind the agent does not mount", v.Name)
		}
		if err != nil {
			return nil, err
		}
		at[v.Name] = path
	}
	mounts := map[string]string{}
	for _, m := range pod.Spec.Containers[0].VolumeMounts {
		mounts[m.MountPath] = filepath.Join(at[m.Name], m.SubPath)
	}
	return mounts, nil
}

// claimPath is the host path of the PersistentVolume claim name is bound to.
func (a *agent) claimPath(ctx context.Context, namespace, name string) (string, error) {
	c, err := a.cs.CoreV1().PersistentVolumeClaims(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if c.Status.Phase != corev1.ClaimBound {
		return "", fmt.Errorf("claim %s is %s, not bound", name, c.Status.Phase)
	}
	pv, err := a.cs.CoreV1().PersistentVolumes().Get(ctx, c.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if pv.Spec.HostPath == nil {
		return "", fmt.Errorf("volume %s: the agent mounts hostPath volumes only", pv.Name)
	}
	return pv.Spec.HostPath.Path, nil
}

func writeFiles(dir string, text map[string]string, bin map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := map[string][]byte{}
	for k, v := range text {
		files[k] = []byte(v)
	}
	for k, v := range bin {
		files[k] = v
	}
	for k, v := range files {
		if err := os.WriteFile(filepath.Join(dir, k), v, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// rewrite replaces a mount path at the start of s (or after its first
// "=", a --flag=value) by the directory it stands for.
func rewrite(s string, mounts map[string]string) string {
	head, value := "", s
	if i := strings.IndexByte(s, '='); i >= 0 && strings.HasPrefix(s, "-") {
		head, value = s[:i+1], s[i+1:]
	}
	for mp, dir := range mounts {
		if value == mp || strings.HasPrefix(value, mp+"/") {
			return head + dir + value[len(mp):]
		}
	}
	return s
}

func ptr[T any](v T) *T { return &v }
