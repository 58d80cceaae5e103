// Package kubelettest runs the pods of rendered Kubernetes manifests as
// local processes, the way the Job controller and a kubelet would start
// them, for tests of what the pods' commands do (llmload stack k8s):
//
//   - IndexedPod and JobPod make a Job's pods as the Job controller does
//     (the completion index as annotation, label and JOB_COMPLETION_INDEX);
//   - Node.Command resolves a container's env (values, Secret and ConfigMap
//     keys, the pod's fields), expands $(VAR) in its command and args with
//     Kubernetes' rules (Expand), and materialises its volumes in temporary
//     directories: ConfigMaps as files, each PersistentVolumeClaim as one
//     directory shared by every pod (as a ReadWriteMany volume), emptyDirs
//     per pod. Paths inside the pod in args and workingDir are mapped to
//     those directories, since there is no mount namespace;
//   - DecodeStrict reads a multi-document YAML rendering into the API's Go
//     types as strictly as the API server's field validation.
//
// Not emulated, and refused with an error when a spec needs it: subPath
// mounts, other volume and env sources, image entrypoints. Not enforced:
// read-only mounts and root filesystems (tests run as root), resources,
// security contexts, scheduling and the pod network (each pod has its own
// network namespace in a cluster; here a "0.0.0.0:PORT" argument naming a
// declared container port becomes "127.0.0.1:0" so pods do not collide).
package kubelettest
