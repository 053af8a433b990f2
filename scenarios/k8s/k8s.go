// Package k8s builds the Kubernetes objects of one distributed run: the
// scenario in a ConfigMap, an Indexed Job whose pods are the run's shards
// (surge run --shards N, the index from JOB_COMPLETION_INDEX, one common
// start), a claim on a shared volume the shards write their run
// directories to, and a merge Job beside them that waits for every shard
// and judges the whole run once (its exit code, 0 GO, 2 NO-GO, is the
// Job's success or failure).
//
// Why a shared volume and a merge Job, not object storage: a
// ReadWriteMany claim (NFS, EFS, Filestore, CephFS, Azure Files) is
// something a platform team already runs and grants by namespace; it needs
// no credentials in the pods, no client library in the image and no
// bucket policy, and the shards' run directories land exactly as
// `surge merge` reads them. The merge Job's log is the text summary and
// verdict; the merged run directory (report.html) stays on the volume.
//
// Threat model: the manifests carry no secret. The target's admin token
// (faults, seeded credentials) is referenced from a Secret the cluster
// holds (AdminTokenSecret), read by surge from SURGE_ADMIN_TOKEN and never
// written to a run directory. The pods run as a non-root user with a
// read-only root filesystem, no privilege escalation and no capabilities.
//
// The objects are the Kubernetes API's own types (k8s.io/api), so what
// Write prints is what an API server decodes.
package k8s

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// Config is one distributed run.
type Config struct {
	// Name names the run's objects (a DNS-1123 label of at most 50
	// characters, so that the Jobs' names stay label values).
	Name, Namespace string
	// Scenario is the scenario file as run (compression applied), which
	// the shards read from the ConfigMap.
	Scenario []byte
	Shards   int
	Image    string
	Target   string
	Seed     uint64
	// StartAt is the shards' common start; Played the scenario's played
	// length and Drain the users' drain after it (for the deadlines).
	StartAt       time.Time
	Played, Drain time.Duration
	// Metrics has shard 0 sample the target's /metrics each second.
	Metrics bool
	// AdminTokenSecret, if set, is a Secret holding the target's admin
	// token under the key "token".
	AdminTokenSecret string
	// CPU and Memory are each shard's request (Memory also its limit).
	CPU, Memory string
	// Claim, if set, is an existing claim for the results; else one is
	// made with StorageClass ("" the cluster's default), StorageSize and
	// AccessMode.
	Claim, StorageClass, StorageSize string
	AccessMode                       corev1.PersistentVolumeAccessMode
	// KeepFinished is how long the Jobs (and their pods, with their logs)
	// stay once finished before the cluster deletes them
	// (ttlSecondsAfterFinished); 0 keeps them. The results stay on the
	// claim either way.
	KeepFinished time.Duration
	// MergeGrace is how long past the shards' latest end (the start, the
	// played length and the drain) the merge Job still waits for a
	// shard's results before it merges what it has and fails naming the
	// missing ones. A shard lost on the way (its pod killed, its node
	// gone) then fails the run that long after it should have ended.
	MergeGrace time.Duration
	// PriorityClass, if set, is the pods' priority class: a run scheduled
	// ahead of (or behind) the cluster's other work.
	PriorityClass string
	// Now is when the manifests are made (deadlines count from it).
	Now time.Time
}

// Paths inside the pods.
const (
	ScenarioDir = "/scenario"
	ResultsDir  = "/results"
	scenarioKey = "scenario.yaml"
	user        = 65532 // the image's non-root user
	// maxConfigMap is what a ConfigMap may hold (the API server's 1 MiB,
	// less room for its metadata).
	maxConfigMap = 1<<20 - 4<<10
)

// Manifests builds the run's objects, in the order to apply them.
func Manifests(cfg Config) ([]runtime.Object, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	meta := func(name, component string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: cfg.Namespace, Labels: Labels(cfg.Name, component)}
	}
	objs := []runtime.Object{&corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: meta(cfg.Name+"-scenario", "scenario"),
		Data:       map[string]string{scenarioKey: string(cfg.Scenario)},
	}}
	claim := cfg.Claim
	if claim == "" {
		claim = cfg.Name + "-results"
		pvc, err := cfg.claim(meta(claim, "results"))
		if err != nil {
			return nil, err
		}
		objs = append(objs, pvc)
	}
	shards, err := cfg.shardJob(meta(cfg.Name, "shard"), claim)
	if err != nil {
		return nil, err
	}
	return append(objs, shards, cfg.mergeJob(meta(cfg.Name+"-merge", "merge"), claim)), nil
}

// Labels are a run's objects' labels (Kubernetes' recommended ones): the
// run is the instance, the part (scenario, results, shard, merge) the
// component; `kubectl get all,cm,pvc -l app.kubernetes.io/instance=NAME`
// lists a run, and deleting by it removes one.
func Labels(run, component string) map[string]string {
	return map[string]string{"app.kubernetes.io/name": "surge", "app.kubernetes.io/instance": run,
		"app.kubernetes.io/component": component, "app.kubernetes.io/managed-by": "surge"}
}

// ttl is the Jobs' ttlSecondsAfterFinished (nil: kept).
func (cfg *Config) ttl() *int32 {
	if cfg.KeepFinished <= 0 {
		return nil
	}
	s := int32(min(cfg.KeepFinished.Seconds(), 1<<31-1))
	return &s
}

func (cfg *Config) check() error {
	switch {
	case len(cfg.Name) > 50 || len(validation.IsDNS1123Label(cfg.Name)) > 0:
		return fmt.Errorf("--name %q: want a DNS-1123 label of at most 50 characters (lower-case letters, digits, '-')", cfg.Name)
	case cfg.Namespace != "" && len(validation.IsDNS1123Label(cfg.Namespace)) > 0:
		return fmt.Errorf("--namespace %q: want a DNS-1123 label", cfg.Namespace)
	case cfg.Shards < 1:
		return fmt.Errorf("--shards %d: want at least 1", cfg.Shards)
	case cfg.Shards > 10_000:
		return fmt.Errorf("--shards %d: at most 10000 (the API server's limit on an Indexed Job with a per-index backoff is 100000; past a few hundred shards, the shared volume is the limit)", cfg.Shards)
	case cfg.Image == "":
		return fmt.Errorf("--image: give the image of the shards (such as registry.example/surge:v1)")
	case cfg.Target == "":
		return fmt.Errorf("--target: the shards need the service's URL (or the scenario's target.url); the embedded reference server cannot be shared")
	case len(cfg.Scenario) > maxConfigMap:
		return fmt.Errorf("the scenario file is %d bytes: a ConfigMap holds at most %d", len(cfg.Scenario), maxConfigMap)
	case !cfg.StartAt.After(cfg.Now):
		return fmt.Errorf("--start-at %s: not after now", cfg.StartAt.Format(time.RFC3339))
	case cfg.KeepFinished < 0:
		return fmt.Errorf("--keep-finished %v: want 0 (keep the Jobs) or more", cfg.KeepFinished)
	case cfg.MergeGrace < 0:
		return fmt.Errorf("--merge-grace %v: want 0 or more", cfg.MergeGrace)
	case cfg.PriorityClass != "" && len(validation.IsDNS1123Subdomain(cfg.PriorityClass)) > 0:
		return fmt.Errorf("--priority-class %q: want a DNS-1123 name", cfg.PriorityClass)
	}
	if cfg.Claim != "" && len(validation.IsDNS1123Subdomain(cfg.Claim)) > 0 {
		return fmt.Errorf("--results-claim %q: want a DNS-1123 name", cfg.Claim)
	}
	return nil
}

func (cfg *Config) claim(meta metav1.ObjectMeta) (*corev1.PersistentVolumeClaim, error) {
	size, err := resource.ParseQuantity(cfg.StorageSize)
	if err != nil {
		return nil, fmt.Errorf("--storage-size %q: %v", cfg.StorageSize, err)
	}
	pvc := &corev1.PersistentVolumeClaim{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: meta,
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{cfg.AccessMode},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
		},
	}
	if cfg.StorageClass != "" {
		pvc.Spec.StorageClassName = &cfg.StorageClass
	}
	return pvc, nil
}

// shardJob is the Indexed Job: one pod per shard, each index tried once
// (a shard replayed later would play its arrivals at the wrong time), the
// others going on when one fails (the merge says which is missing).
func (cfg *Config) shardJob(meta metav1.ObjectMeta, claim string) (*batchv1.Job, error) {
	res, err := cfg.resources()
	if err != nil {
		return nil, err
	}
	n := int32(cfg.Shards)
	indexed, zero := batchv1.IndexedCompletion, int32(0)
	deadline := int64((cfg.StartAt.Sub(cfg.Now) + cfg.Played + cfg.Drain + 5*time.Minute).Seconds())
	args := []string{"run", ScenarioDir + "/" + scenarioKey, "--shards", strconv.Itoa(cfg.Shards),
		"--start-at", cfg.StartAt.UTC().Format(time.RFC3339Nano), "--target", cfg.Target,
		"--seed", strconv.FormatUint(cfg.Seed, 10), "--drain", cfg.Drain.String(),
		"--out", ResultsDir + "/" + cfg.Name + "/shard-$(" + "JOB_COMPLETION_INDEX" + ")"}
	if cfg.Metrics {
		args = append(args, "--metrics")
	}
	pod := cfg.pod(meta.Labels, claim, args, res)
	if cfg.AdminTokenSecret != "" { // the shards switch faults and seed credentials; the merge needs no token
		pod.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "SURGE_ADMIN_TOKEN", ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: cfg.AdminTokenSecret}, Key: "token"}}}}
	}
	pod.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{ // shards spread over nodes: more CPU, more source addresses
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 100, PodAffinityTerm: corev1.PodAffinityTerm{
			TopologyKey:   "kubernetes.io/hostname",
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"batch.kubernetes.io/job-name": meta.Name}},
		}}},
	}}
	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: meta,
		Spec: batchv1.JobSpec{
			CompletionMode: &indexed, Completions: &n, Parallelism: &n,
			BackoffLimitPerIndex: &zero, ActiveDeadlineSeconds: &deadline,
			TTLSecondsAfterFinished: cfg.ttl(),
			Template:                pod,
		},
	}, nil
}

// mergeJob waits beside the shards for their results, merges them, and
// judges the run: it succeeds on GO and fails on NO-GO (exit 2) or when
// it could not merge (exit 1), tried once.
func (cfg *Config) mergeJob(meta metav1.ObjectMeta, claim string) *batchv1.Job {
	zero := int32(0)
	wait := cfg.StartAt.Sub(cfg.Now) + cfg.Played + cfg.Drain + cfg.MergeGrace
	deadline := int64((wait + 10*time.Minute).Seconds())
	dir := ResultsDir + "/" + cfg.Name
	args := []string{"merge", dir, "--out", dir + "/merged", "--wait", wait.Round(time.Second).String(), "--junit", dir + "/junit.xml"}
	res := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("512Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")}, // a report of a long run's results: see results.MaxFile
	}
	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: meta,
		Spec: batchv1.JobSpec{BackoffLimit: &zero, ActiveDeadlineSeconds: &deadline, TTLSecondsAfterFinished: cfg.ttl(),
			Template: cfg.pod(meta.Labels, claim, args, res)},
	}
}

func (cfg *Config) resources() (corev1.ResourceRequirements, error) {
	cpu, err := resource.ParseQuantity(cfg.CPU)
	if err != nil {
		return corev1.ResourceRequirements{}, fmt.Errorf("--cpu %q: %v", cfg.CPU, err)
	}
	mem, err := resource.ParseQuantity(cfg.Memory)
	if err != nil {
		return corev1.ResourceRequirements{}, fmt.Errorf("--memory %q: %v", cfg.Memory, err)
	}
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: cpu, corev1.ResourceMemory: mem},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: mem},
	}, nil
}

// pod is a surge pod: non-root, read-only, the scenario and the results
// mounted.
func (cfg *Config) pod(labels map[string]string, claim string, args []string, res corev1.ResourceRequirements) corev1.PodTemplateSpec {
	yes, no, uid := true, false, int64(user)
	c := corev1.Container{
		Name: "surge", Image: cfg.Image, Args: args, Resources: res,
		VolumeMounts: []corev1.VolumeMount{{Name: "scenario", MountPath: ScenarioDir, ReadOnly: true}, {Name: "results", MountPath: ResultsDir}},
		SecurityContext: &corev1.SecurityContext{
			RunAsNonRoot: &yes, RunAsUser: &uid, ReadOnlyRootFilesystem: &yes, AllowPrivilegeEscalation: &no,
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{
			RestartPolicy:     corev1.RestartPolicyNever,
			PriorityClassName: cfg.PriorityClass,
			Containers:        []corev1.Container{c},
			SecurityContext: &corev1.PodSecurityContext{FSGroup: &uid,
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			Volumes: []corev1.Volume{
				{Name: "scenario", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: cfg.Name + "-scenario"}}}},
				{Name: "results", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}},
			},
		},
	}
}

// Decode reads a YAML stream of core/v1 and batch/v1 objects strictly, as
// an API server would (an unknown or duplicated field is an error): what
// surge k8s printed, read back.
func Decode(stream []byte) ([]runtime.Object, error) {
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := batchv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	dec := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
	var out []runtime.Object
	for i, doc := range strings.Split(string(stream), "\n---\n") {
		obj, _, err := dec.Decode([]byte(doc), nil, nil)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		out = append(out, obj)
	}
	return out, nil
}

// Write prints the objects as one YAML stream, for kubectl apply -f -.
func Write(w io.Writer, objs []runtime.Object) error {
	for i, o := range objs {
		b, err := yaml.Marshal(o)
		if err != nil {
			return err
		}
		if i > 0 {
			if _, err := io.WriteString(w, "---\n"); err != nil {
				return err
			}
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}
