package kubelettest

import (
	"fmt"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// completionIndexEnv is the variable the Job controller adds to every
// container of an Indexed Job's pods.
const completionIndexEnv = "JOB_COMPLETION_INDEX"

// IndexedPod returns the pod of completion index i of an Indexed Job as the
// Job controller creates it: the template, named JOB-i, with the index as
// the batch.kubernetes.io/job-completion-index annotation and label, its
// hostname JOB-i when the template names a subdomain, and
// JOB_COMPLETION_INDEX appended to the env of every container that does not
// set it, from the label (the PodIndexLabel behaviour, on by default since
// Kubernetes 1.32).
func IndexedPod(job *batchv1.Job, i int) (*corev1.Pod, error) {
	if job.Spec.CompletionMode == nil || *job.Spec.CompletionMode != batchv1.IndexedCompletion {
		return nil, fmt.Errorf("job %s is not Indexed: its pods get no completion index", job.Name)
	}
	if n := job.Spec.Completions; n == nil || i < 0 || i >= int(*n) {
		return nil, fmt.Errorf("job %s: completion index %d is out of range (completions %v)", job.Name, i, job.Spec.Completions)
	}
	pod := JobPod(job)
	pod.Name = fmt.Sprintf("%s-%d", job.Name, i)
	idx := strconv.Itoa(i)
	pod.Annotations[batchv1.JobCompletionIndexAnnotation] = idx
	pod.Labels[batchv1.JobCompletionIndexAnnotation] = idx
	if pod.Spec.Subdomain != "" && pod.Spec.Hostname == "" {
		pod.Spec.Hostname = pod.Name
	}
	ref := &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
		FieldPath: fmt.Sprintf("metadata.labels['%s']", batchv1.JobCompletionIndexAnnotation)}}
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for k := range cs {
			if !hasEnv(cs[k].Env, completionIndexEnv) {
				cs[k].Env = append(cs[k].Env, corev1.EnvVar{Name: completionIndexEnv, ValueFrom: ref})
			}
		}
	}
	return pod, nil
}

// JobPod returns a pod of job as it would exist without the Job
// controller's indexing: the template as is, named after the Job.
func JobPod(job *batchv1.Job) *corev1.Pod {
	t := job.Spec.Template.DeepCopy()
	pod := &corev1.Pod{ObjectMeta: t.ObjectMeta, Spec: t.Spec}
	pod.Name, pod.Namespace = job.Name, job.Namespace
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	return pod
}

func hasEnv(env []corev1.EnvVar, name string) bool {
	for _, e := range env {
		if e.Name == name {
			return true
		}
	}
	return false
}
