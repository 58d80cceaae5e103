// Package k8s renders the Kubernetes manifests of a sharded llmload run
// (`llmload stack k8s`): a ConfigMap with the scenario and its data files,
// a ReadWriteMany PersistentVolumeClaim for the results, an Indexed Job
// whose pod of completion index i runs shard i/n from one rendered start
// instant, a merge Job that waits for every shard's results and runs
// `llmload merge`, and a headless Service plus a PodMonitor so a
// kube-prometheus-stack Prometheus scrapes each shard's --metrics-addr.
//
// Objects are built from the Kubernetes API's own Go types (k8s.io/api);
// the PodMonitor, whose CRD types would bring in prometheus-operator, is a
// small local struct of the fields used. Render is a pure function of its
// Options (the caller picks the start instant). WaitForResults is the merge
// Job's init step. llmload does not deploy the model server: the manifests
// point at a router or Service URL (vLLM production-stack, llm-d).
// docs/stack.md ("Kubernetes") is the user guide.
package k8s
