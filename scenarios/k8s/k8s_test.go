package k8s

import (
	"bytes"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func config() Config {
	now := time.Date(2026, 12, 13, 10, 58, 0, 0, time.UTC)
	return Config{Name: "lunch-1213", Namespace: "load", Scenario: []byte("name: lunch\n"), Shards: 8, Image: "registry.example/surge:v1",
		Target: "http://pass.load.svc:8080", Seed: 7, StartAt: now.Add(2 * time.Minute), Played: 6 * time.Minute, Drain: 2 * time.Minute,
		AdminTokenSecret: "pass-admin", CPU: "1", Memory: "512Mi", StorageSize: "1Gi", AccessMode: corev1.ReadWriteMany, Now: now,
		KeepFinished: 24 * time.Hour, MergeGrace: 5 * time.Minute, PriorityClass: "load-low"}
}

func decodeStrict(t *testing.T, stream []byte) []runtime.Object {
	t.Helper()
	objs, err := Decode(stream)
	if err != nil {
		t.Fatalf("%v in\n%s", err, stream)
	}
	return objs
}

func TestManifestsDecodeStrictlyAsOneIndexedRun(t *testing.T) {
	objs, err := Manifests(config())
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Write(&b, objs); err != nil {
		t.Fatal(err)
	}
	back := decodeStrict(t, b.Bytes())
	if len(back) != 4 {
		t.Fatalf("%d objects, want a ConfigMap, a claim and two Jobs", len(back))
	}
	cm := back[0].(*corev1.ConfigMap)
	if cm.Data["scenario.yaml"] != "name: lunch\n" || cm.Namespace != "load" {
		t.Errorf("the ConfigMap: %+v", cm)
	}
	pvc := back[1].(*corev1.PersistentVolumeClaim)
	if pvc.Spec.AccessModes[0] != corev1.ReadWriteMany || pvc.Spec.Resources.Requests.Storage().String() != "1Gi" {
		t.Errorf("the claim: %+v", pvc.Spec)
	}
	shards := back[2].(*batchv1.Job)
	checkShardJob(t, shards)
	merge := back[3].(*batchv1.Job)
	m := merge.Spec.Template.Spec.Containers[0]
	if *merge.Spec.BackoffLimit != 0 || merge.Spec.CompletionMode != nil || strings.Join(m.Args, " ") !=
		"merge /results/lunch-1213 --out /results/lunch-1213/merged --wait 15m0s --junit /results/lunch-1213/junit.xml" || len(m.Env) != 0 {
		t.Errorf("the merge Job: %+v, args %v, env %v", merge.Spec, m.Args, m.Env)
	}
}

func checkShardJob(t *testing.T, j *batchv1.Job) {
	t.Helper()
	s := j.Spec
	if *s.CompletionMode != batchv1.IndexedCompletion || *s.Completions != 8 || *s.Parallelism != 8 || *s.BackoffLimitPerIndex != 0 || s.MaxFailedIndexes != nil {
		t.Errorf("the shard Job's spec: %+v", s)
	}
	if *s.ActiveDeadlineSeconds != int64((2+6+2+5)*60) {
		t.Errorf("deadline %ds, want the start, the played timeline, the drain and 5 min", *s.ActiveDeadlineSeconds)
	}
	pod := s.Template.Spec
	c := pod.Containers[0]
	want := "run /scenario/scenario.yaml --shards 8 --start-at 2026-12-13T11:00:00Z --target http://pass.load.svc:8080 --seed 7 --drain 2m0s --out /results/lunch-1213/shard-$(JOB_COMPLETION_INDEX)"
	if strings.Join(c.Args, " ") != want {
		t.Errorf("shard args\n %s\nwant\n %s", strings.Join(c.Args, " "), want)
	}
	if pod.RestartPolicy != corev1.RestartPolicyNever || !*c.SecurityContext.RunAsNonRoot || !*c.SecurityContext.ReadOnlyRootFilesystem ||
		*c.SecurityContext.AllowPrivilegeEscalation || c.SecurityContext.Capabilities.Drop[0] != "ALL" {
		t.Errorf("the shard pod: restart %s, security %+v", pod.RestartPolicy, c.SecurityContext)
	}
	if c.Resources.Requests.Cpu().String() != "1" || c.Resources.Limits.Memory().String() != "512Mi" {
		t.Errorf("resources %+v", c.Resources)
	}
	if len(c.Env) != 1 || c.Env[0].Name != "SURGE_ADMIN_TOKEN" || c.Env[0].ValueFrom.SecretKeyRef.Name != "pass-admin" {
		t.Errorf("the admin token is not taken from its Secret: %+v", c.Env)
	}
	if s.TTLSecondsAfterFinished == nil || *s.TTLSecondsAfterFinished != 86400 || pod.PriorityClassName != "load-low" {
		t.Errorf("ttl %v, priority class %q", s.TTLSecondsAfterFinished, pod.PriorityClassName)
	}
	if l := s.Template.Labels; l["app.kubernetes.io/component"] != "shard" || l["app.kubernetes.io/instance"] != "lunch-1213" || l["app.kubernetes.io/managed-by"] != "surge" {
		t.Errorf("the shard pods' labels: %v", l)
	}
}

// TestManifestsLabelEveryPart: every object is labelled with its run and
// its part, so that one selector lists (or deletes) a run.
func TestManifestsLabelEveryPart(t *testing.T) {
	objs, err := Manifests(config())
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, o := range objs {
		m := o.(metav1.Object)
		l := m.GetLabels()
		if l["app.kubernetes.io/instance"] != "lunch-1213" || l["app.kubernetes.io/name"] != "surge" {
			t.Errorf("%s: labels %v", m.GetName(), l)
		}
		parts = append(parts, l["app.kubernetes.io/component"])
	}
	if strings.Join(parts, " ") != "scenario results shard merge" {
		t.Errorf("components %v", parts)
	}
	cfg := config()
	cfg.KeepFinished, cfg.PriorityClass = 0, ""
	objs, _ = Manifests(cfg)
	for _, o := range objs[2:] {
		j := o.(*batchv1.Job)
		if j.Spec.TTLSecondsAfterFinished != nil || j.Spec.Template.Spec.PriorityClassName != "" {
			t.Errorf("%s: kept forever and the cluster's priority asked, have ttl %v, class %q", j.Name, j.Spec.TTLSecondsAfterFinished, j.Spec.Template.Spec.PriorityClassName)
		}
	}
}

func TestManifestsBadInput(t *testing.T) {
	for _, c := range []struct {
		change func(*Config)
		want   string
	}{
		{func(c *Config) { c.Name = "Lunch_1" }, "--name"},
		{func(c *Config) { c.Name = strings.Repeat("a", 51) }, "at most 50"},
		{func(c *Config) { c.Shards = 0 }, "--shards 0"},
		{func(c *Config) { c.Image = "" }, "--image"},
		{func(c *Config) { c.Target = "" }, "--target"},
		{func(c *Config) { c.StartAt = c.Now }, "not after now"},
		{func(c *Config) { c.Memory = "lots" }, `--memory "lots"`},
		{func(c *Config) { c.StorageSize = "big" }, `--storage-size "big"`},
		{func(c *Config) { c.Scenario = make([]byte, 2<<20) }, "a ConfigMap holds at most"},
		{func(c *Config) { c.KeepFinished = -time.Second }, "--keep-finished"},
		{func(c *Config) { c.PriorityClass = "High Priority" }, "--priority-class"},
	} {
		cfg := config()
		c.change(&cfg)
		if _, err := Manifests(cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v, want an error saying %q", err, c.want)
		}
	}
	cfg := config()
	cfg.Claim = "shared-results"
	objs, err := Manifests(cfg)
	if err != nil || len(objs) != 3 {
		t.Fatalf("with an existing claim: %d objects, %v", len(objs), err)
	}
	if objs[1].(*batchv1.Job).Spec.Template.Spec.Volumes[1].PersistentVolumeClaim.ClaimName != "shared-results" {
		t.Error("the shards do not use the existing claim")
	}
}

func TestDecodeRefusesUnknownFields(t *testing.T) {
	objs, _ := Manifests(config())
	var b bytes.Buffer
	Write(&b, objs)
	bad := strings.Replace(b.String(), "backoffLimitPerIndex: 0", "backoffLimitPerIndex: 0\n  backoffLimitPerShard: 0", 1)
	if _, err := Decode([]byte(bad)); err == nil || !strings.Contains(err.Error(), "backoffLimitPerShard") {
		t.Errorf("an unknown field: %v", err)
	}
}
