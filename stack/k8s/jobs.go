package k8s

import (
	"fmt"
	"path"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// completionIndex is the variable the Job controller sets in every
// container of an Indexed Job's pod; $(...) in args expands it.
const completionIndex = "JOB_COMPLETION_INDEX"

// Volume names inside the pods.
const (
	volScenario = "scenario"
	volResults  = "results"
	volTmp      = "tmp"
)

// literal escapes a value the user gave for a container's args: the
// kubelet expands $(VAR) in args from the container's env, so a `$(X)` in
// --run-args or --url would otherwise be replaced (or kept, if X is not
// set) behind the user's back. "$$" is Kubernetes' escape for "$".
func literal(s string) string { return strings.ReplaceAll(s, "$", "$$") }

// shardJob is the Indexed Job: pod i runs `llmload run --shard i/n` from
// the shared start instant and writes to its own shard directory.
func shardJob(o Options) *batchv1.Job {
	args := []string{"run", path.Join(ScenarioDir, o.Scenario.Name),
		"--url", literal(o.URL),
		"--shard", fmt.Sprintf("$(%s)/%d", completionIndex, o.Shards),
		"--start-at", o.StartAt.UTC().Format(time.RFC3339Nano),
		"--out", fmt.Sprintf("%s/shard-$(%s)", RunDir(o), completionIndex),
		"--metrics-addr", fmt.Sprintf("0.0.0.0:%d", o.MetricsPort),
		"--metrics-linger", o.MetricsLinger.String(),
		"--no-ui",
	}
	for _, a := range o.RunArgs {
		args = append(args, literal(a))
	}
	c := container(o, "llmload", args, shardResources(o))
	c.Ports = []corev1.ContainerPort{{Name: "metrics", ContainerPort: int32(o.MetricsPort), Protocol: corev1.ProtocolTCP}}
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: volScenario, MountPath: ScenarioDir, ReadOnly: true})
	c.WorkingDir = ScenarioDir // relative trace paths resolve beside the scenario
	if o.APIKeySecret != "" {
		name, key, _ := ParseSecretRef(o.APIKeySecret) // checked by Validate
		c.Env = append(c.Env, corev1.EnvVar{Name: "LLMLOAD_API_KEY", ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key}}})
	}
	spec := podSpec(o, c)
	spec.Subdomain = NamesOf(o).Service // pods resolve as NAME-i.NAME
	spec.Volumes = append(spec.Volumes, corev1.Volume{Name: volScenario, VolumeSource: corev1.VolumeSource{
		ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: NamesOf(o).ConfigMap}}}})
	// Shards exist to use more than one machine: spread them over nodes
	// when the scheduler can, without refusing to run when it cannot.
	spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "kubernetes.io/hostname",
		WhenUnsatisfiable: corev1.ScheduleAnyway, LabelSelector: &metav1.LabelSelector{MatchLabels: selector(o, componentShard)}}}
	n := int32(o.Shards)
	indexed := batchv1.IndexedCompletion
	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: meta(o, NamesOf(o).Job, componentShard),
		Spec: batchv1.JobSpec{
			CompletionMode: &indexed,
			Completions:    &n,
			Parallelism:    &n,
			// A retried shard would start after the shared instant, off the
			// common epoch: no retries. Per index, so one failed shard (a
			// crash, or its own threshold exit code) leaves the others
			// running; the merged verdict is the merge Job's.
			BackoffLimitPerIndex: ptr(int32(0)),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels(o, componentShard)},
				Spec:       spec,
			},
		},
	}
}

// mergeJob waits (init container `llmload stack k8s wait`) until every
// shard directory holds finished results, then runs `llmload merge`. Its
// exit code is the merged run's: thresholds are judged on merged data.
func mergeJob(o Options) *batchv1.Job {
	shards := ShardDirs(o)
	wait := []string{"stack", "k8s", "wait", "--timeout", o.MergeTimeout.String()}
	merge := append([]string{"merge"}, shards...)
	merge = append(merge, "--out", MergedDir(o))
	if o.AllowPartial {
		wait = append(wait, "--allow-partial")
		merge = append(merge, "--allow-partial")
	}
	wait = append(wait, shards...)
	spec := podSpec(o, container(o, "merge", merge, mergeResources(o)))
	spec.InitContainers = []corev1.Container{container(o, "wait-for-shards", wait, waitResources)}
	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: meta(o, NamesOf(o).MergeJob, componentMerge),
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr(int32(0)), // a failed merge is a verdict, not a flake
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels(o, componentMerge)},
				Spec:       spec,
			},
		},
	}
}

// shardResources: --cpu and --memory requested, memory limited to the
// request, CPU limited to --cpu-limit (default --cpu; "0" none).
func shardResources(o Options) corev1.ResourceRequirements {
	r := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(o.CPU), corev1.ResourceMemory: resource.MustParse(o.Memory)},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(o.Memory)},
	}
	switch o.CPULimit {
	case "":
		r.Limits[corev1.ResourceCPU] = resource.MustParse(o.CPU)
	case "0": // no CPU limit: no CFS throttling pauses in the timings
	default:
		r.Limits[corev1.ResourceCPU] = resource.MustParse(o.CPULimit)
	}
	return r
}

// mergeResources: merging reads the shards' files on one core; memory as a
// shard's, since it holds the merged histograms and windows.
func mergeResources(o Options) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse(o.Memory)},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(o.Memory)},
	}
}

// waitResources: the wait only stats a few files every few seconds.
var waitResources = corev1.ResourceRequirements{
	Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
	Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
}

// container is an llmload container: the image, resources, a locked-down
// security context, the results volume and a writable /tmp.
func container(o Options, name string, args []string, res corev1.ResourceRequirements) corev1.Container {
	return corev1.Container{
		Name:            name,
		Image:           o.Image,
		ImagePullPolicy: corev1.PullPolicy(o.ImagePullPolicy),
		Command:         []string{"llmload"},
		Args:            args,
		Resources:       res,
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr(false),
			ReadOnlyRootFilesystem:   ptr(true),
			RunAsNonRoot:             ptr(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
		VolumeMounts: []corev1.VolumeMount{
			{Name: volResults, MountPath: ResultsDir},
			{Name: volTmp, MountPath: tmpDir},
		},
	}
}

// podSpec is the pod around c: never restarted, no API token, the
// RuntimeDefault seccomp profile, the results PVC and an emptyDir /tmp.
func podSpec(o Options, c corev1.Container) corev1.PodSpec {
	return corev1.PodSpec{
		RestartPolicy:                corev1.RestartPolicyNever,
		AutomountServiceAccountToken: ptr(false), // llmload never talks to the API server
		EnableServiceLinks:           ptr(false),
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:   ptr(true),
			RunAsUser:      ptr(int64(podUser)),
			RunAsGroup:     ptr(int64(podUser)),
			FSGroup:        ptr(int64(podUser)),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		Containers: []corev1.Container{c},
		Volumes: []corev1.Volume{
			{Name: volResults, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: NamesOf(o).PVC}}},
			{Name: volTmp, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		},
	}
}

func ptr[T any](v T) *T { return &v }
