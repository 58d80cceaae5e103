package k8s

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/llmload/llmload/internal/testenv"
	"sigs.k8s.io/yaml"
)

// The server-side dry run needs kube-apiserver and etcd, built from their
// Go modules as docs/stack.md ("What was and was not tested") shows. The
// build takes ~30 minutes on two cores, more than CI's budget, so the
// test skips without them, in CI too.

// podMonitorCRD is prometheus-operator's PodMonitor CRD, generated from
// its v0.95.2 Go types by controller-gen (docs/stack.md has the command).
const podMonitorCRD = "testdata/crd/monitoring.coreos.com_podmonitors.yaml"

func TestServerSideDryRun(t *testing.T) {
	apiserverBin, etcdBin := findBinary("LLMLOAD_KUBE_APISERVER", "kube-apiserver"), findBinary("LLMLOAD_ETCD", "etcd")
	if apiserverBin == "" || etcdBin == "" {
		t.Skip("kube-apiserver or etcd not found (set LLMLOAD_KUBE_APISERVER and LLMLOAD_ETCD, or put them on PATH; docs/stack.md builds them; too slow to build in CI)")
	}
	if testing.Short() {
		t.Skip("starts etcd and kube-apiserver (~20 s)")
	}
	api := startAPIServer(t, apiserverBin, etcdBin)
	crd, err := os.ReadFile(podMonitorCRD)
	if err != nil {
		t.Fatal(err)
	}
	api.create(t, crd, false)
	api.waitCRDEstablished(t, "podmonitors.monitoring.coreos.com")
	api.create(t, []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: llm-bench\n"), false)

	applied := 0
	for name := range goldenCases() {
		data, err := os.ReadFile(filepath.Join("testdata", name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range strings.Split(string(data), "\n---\n")[1:] {
			api.create(t, []byte(doc), true)
			applied++
		}
	}
	var version struct{ GitVersion string }
	_, body, _ := api.do(http.MethodGet, "/version", nil)
	json.Unmarshal(body, &version)
	t.Logf("%d documents of %d golden files passed the dry run of kube-apiserver %s", applied, len(goldenCases()), version.GitVersion)
	// The dry run is not a rubber stamp: a misspelt field (strict field
	// validation) and an invalid value (the Job's own validation) are refused.
	data, _ := os.ReadFile(filepath.Join("testdata", "default.yaml"))
	docs := strings.Split(string(data), "\n---\n")
	job := docs[len(docs)-2]
	for _, bad := range [][2]string{{"completionMode:", "completionMod:"}, {"restartPolicy: Never", "restartPolicy: Always"}} {
		doc := strings.Replace(job, bad[0], bad[1], 1)
		if code, body := api.post(t, []byte(doc), true); code < 400 || !strings.Contains(body, strings.TrimSuffix(strings.Fields(bad[1])[0], ":")) {
			t.Errorf("a Job with %q was answered %d: %s", bad[1], code, body)
		}
	}
}

func findBinary(env, name string) string {
	if p := os.Getenv(env); p != "" {
		return p
	}
	p, _ := exec.LookPath(name)
	return p
}

// testToken authenticates the test to its own API server, which listens
// on loopback only for the test's length.
const testToken = "llmload-dry-run-test"

type apiServer struct {
	base   string
	client *http.Client
	exited []<-chan struct{} // etcd's and the API server's: closed when one stops
}

// freePort is a free loopback port number.
func freePort(t *testing.T) int {
	_, port, _ := net.SplitHostPort(testenv.FreeLoopbackAddr(t))
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// startProcess runs a server until the test ends; its output goes to a
// file shown when the test fails. The channel is closed if it exits.
func startProcess(t *testing.T, dir, name string, args ...string) <-chan struct{} {
	t.Helper()
	logPath := filepath.Join(dir, filepath.Base(name)+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s log (last 3000 bytes):\n%s", filepath.Base(name), b[max(0, len(b)-3000):])
		}
	})
	return exited
}

func startAPIServer(t *testing.T, apiserverBin, etcdBin string) *apiServer {
	dir := t.TempDir()
	client, peer, secure := freePort(t), freePort(t), freePort(t)
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", client)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peer)
	etcdExited := startProcess(t, dir, etcdBin, "--name", "default", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL, "--initial-cluster", "default="+peerURL)

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tokens := filepath.Join(dir, "tokens.csv")
	os.WriteFile(tokens, []byte(testToken+",admin,admin,system:masters\n"), 0o600)
	saKey := filepath.Join(dir, "sa.key")
	os.WriteFile(saKey, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
	apiExited := startProcess(t, dir, apiserverBin, "--etcd-servers", etcdURL,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", fmt.Sprint(secure),
		"--cert-dir", filepath.Join(dir, "certs"), "--service-cluster-ip-range", "10.96.0.0/24",
		"--authorization-mode", "AlwaysAllow", "--token-auth-file", tokens,
		"--service-account-issuer", "https://kubernetes.default.svc", "--service-account-key-file", saKey,
		"--service-account-signing-key-file", saKey,
		// No kubernetes Service endpoints: it would refuse a loopback address.
		"--endpoint-reconciler-type", "none")

	// Its serving certificate is self-signed at start, and nothing but
	// this loopback test talks to it.
	api := &apiServer{base: fmt.Sprintf("https://127.0.0.1:%d", secure), client: &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}},
		exited: []<-chan struct{}{etcdExited, apiExited}}
	api.waitFor(t, "/readyz", func(code int, _ []byte) bool { return code == http.StatusOK })
	return api
}

// waitFor polls path until ok or 90 s pass: etcd and the API server take
// several seconds to start on a busy machine.
func (a *apiServer) waitFor(t *testing.T, path string, ok func(int, []byte) bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var last string
	for time.Now().Before(deadline) {
		if code, body, err := a.do(http.MethodGet, path, nil); err == nil {
			if ok(code, body) {
				return
			}
			last = fmt.Sprintf("%d %s", code, body)
		} else {
			last = err.Error()
		}
		for _, e := range a.exited {
			select {
			case <-e:
				t.Fatalf("GET %s: etcd or kube-apiserver exited (its log follows); last answer: %.500s", path, last)
			default:
			}
		}
		<-tick.C
	}
	t.Fatalf("GET %s: not ready after 90s; last answer: %.500s", path, last)
}

func (a *apiServer) waitCRDEstablished(t *testing.T, name string) {
	a.waitFor(t, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"+name, func(code int, body []byte) bool {
		var crd struct {
			Status struct {
				Conditions []struct{ Type, Status string }
			}
		}
		json.Unmarshal(body, &crd)
		for _, c := range crd.Status.Conditions {
			if c.Type == "Established" && c.Status == "True" {
				return true
			}
		}
		return false
	})
	// The new kind is served once discovery lists it.
	a.waitFor(t, "/apis/monitoring.coreos.com/v1", func(code int, body []byte) bool {
		return code == http.StatusOK && bytes.Contains(body, []byte(`"PodMonitor"`))
	})
}

// create POSTs one YAML document (dryRun=All: validated, admitted, not
// stored) with strict field validation, and fails the test unless the
// server accepts it.
func (a *apiServer) create(t *testing.T, doc []byte, dryRun bool) {
	t.Helper()
	if code, body := a.post(t, doc, dryRun); code != http.StatusCreated && code != http.StatusOK {
		t.Errorf("POST (dryRun %v) answered %d: %s\n%s", dryRun, code, body, doc)
	}
}

func (a *apiServer) post(t *testing.T, doc []byte, dryRun bool) (int, string) {
	t.Helper()
	j, err := yaml.YAMLToJSON(doc)
	if err != nil {
		t.Fatal(err)
	}
	var head struct {
		APIVersion, Kind string
		Metadata         struct{ Namespace string }
	}
	json.Unmarshal(j, &head)
	path := collectionPath(head.APIVersion, head.Kind, head.Metadata.Namespace) + "?fieldValidation=Strict"
	if dryRun {
		path += "&dryRun=All"
	}
	code, body, err := a.do(http.MethodPost, path, j)
	if err != nil {
		t.Fatal(err)
	}
	return code, string(body)
}

func (a *apiServer) do(method, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(method, a.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// collectionPath is the REST path of a kind's collection: /api/v1 for the
// core group, /apis/GROUP/VERSION otherwise; namespaced unless cluster-wide.
func collectionPath(apiVersion, kind, namespace string) string {
	prefix := "/apis/" + apiVersion
	if apiVersion == "v1" {
		prefix = "/api/v1"
	}
	plural := strings.ToLower(kind) + "s"
	switch kind {
	case "Namespace", "CustomResourceDefinition":
		return prefix + "/" + plural
	}
	if namespace == "" {
		namespace = "default"
	}
	return prefix + "/namespaces/" + namespace + "/" + plural
}
