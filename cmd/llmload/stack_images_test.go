package main

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/llmload/llmload/internal/testenv"
)

// imageFile is one entry of a stand-in image's root file system.
type imageFile struct {
	mode    int64
	data    []byte
	symlink string // a symlink to this target when not empty
	dir     bool   // an empty directory (mode its permissions)
}

// rootfs is an image's files by absolute path.
type rootfs map[string]imageFile

// addHostFile copies a host file (symlinks followed) to path in the image.
func (r rootfs) addHostFile(t *testing.T, path, host string) {
	t.Helper()
	b, err := os.ReadFile(host)
	if err != nil {
		t.Fatalf("stand-in image: %v", err)
	}
	st, err := os.Stat(host)
	if err != nil {
		t.Fatal(err)
	}
	r[path] = imageFile{mode: int64(st.Mode().Perm()), data: b}
}

// addBinary copies a host executable and the shared libraries ldd lists
// for it, at the same paths.
func (r rootfs) addBinary(t *testing.T, path, host string) {
	t.Helper()
	r.addHostFile(t, path, host)
	out, err := exec.Command("ldd", host).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "not a dynamic executable") {
			return
		}
		t.Fatalf("ldd %s: %v\n%s", host, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		for _, f := range strings.Fields(line) {
			if strings.HasPrefix(f, "/") {
				r.addHostFile(t, f, f)
			}
		}
	}
}

func (r rootfs) addText(path, text string, mode int64) {
	r[path] = imageFile{mode: mode, data: []byte(text)}
}

// importImage writes r as a tar stream into `docker import`, FROM scratch
// in effect; changes are Dockerfile instructions (ENTRYPOINT, ENV).
func importImage(t *testing.T, ctx context.Context, docker, tag string, r rootfs, changes ...string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	var paths []string
	for p := range r {
		paths = append(paths, p)
		for d := filepath.Dir(p); d != "/"; d = filepath.Dir(d) {
			dirs[d] = true
		}
	}
	dirs["/tmp"] = true
	var dirList []string
	for d := range dirs {
		dirList = append(dirList, d)
	}
	slices.Sort(dirList)
	slices.Sort(paths)
	for _, d := range dirList {
		mode := int64(0o755)
		if d == "/tmp" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(d, "/") + "/", Mode: mode}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range paths {
		f := r[p]
		h := &tar.Header{Name: strings.TrimPrefix(p, "/"), Mode: f.mode, Size: int64(len(f.data)), Typeflag: tar.TypeReg}
		switch {
		case f.symlink != "":
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, f.symlink, 0
		case f.dir:
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	args := []string{"import"}
	for _, c := range changes {
		args = append(args, "--change", c)
	}
	cmd := exec.CommandContext(ctx, docker, append(args, "-", tag)...)
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker import %s: %v\n%s", tag, err, out)
	}
	t.Cleanup(func() { exec.Command(docker, "image", "rm", "--force", tag).Run() })
}

// staticLLMLoad builds the llmload binary without cgo, so it runs FROM
// scratch.
func staticLLMLoad(t *testing.T, ctx context.Context, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "llmload-static")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build (static): %v\n%s", err, out)
	}
	return bin
}

// pythonForHealthcheck adds Debian's python3 and the standard library
// modules that the rendered vLLM healthcheck loads, found by running the
// same urlopen on the host against a loopback server.
func (r rootfs) pythonForHealthcheck(t *testing.T, ctx context.Context) {
	t.Helper()
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		testenv.Missing(t, python+" not found (Debian's python3 goes into the vLLM stand-in image for its healthcheck)")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	script := `import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=5)
for m in list(sys.modules.values()):
    f = getattr(m, "__file__", None)
    if f: print(f)`
	out, err := exec.CommandContext(ctx, python, "-c", script, srv.URL+"/health").Output()
	if err != nil {
		t.Fatalf("%s: %v", python, err)
	}
	r.addBinary(t, python, python)
	for _, f := range strings.Fields(string(out)) {
		if strings.HasPrefix(f, "/usr/lib/python3") {
			r.addHostFile(t, f, f)
		}
	}
}

// standInVLLM takes the rendered entrypoint and command, `vllm serve MODEL
// --host H --port P [vLLM flags]`, says what it got, and runs the simulator
// on that port (STANDIN_PORT overrides it: the unhealthy variant).
const standInVLLM = `#!/bin/sh
[ "$1" = serve ] || { echo "stand-in vllm: want 'vllm serve MODEL ...', got: $*" >&2; exit 2; }
shift
echo "stand-in vllm: serve $*"
model=$1; shift; port=8000
while [ $# -gt 0 ]; do
  case "$1" in --port) port=$2; shift;; --model) echo "stand-in vllm: --model is deprecated" >&2; exit 2;; esac
  shift
done
exec /llmload sim --addr "0.0.0.0:${STANDIN_PORT:-$port}" --model "$model" --profile fixed --ttft 20ms --itl 5ms
`

// standIns are the tags of the images standInImages builds.
type standIns struct {
	vllm, vllmBroken, dcgm, prom, router string
}

// standInImages builds the stand-in images.
func standInImages(t *testing.T, ctx context.Context, docker, dir string) standIns {
	t.Helper()
	busybox := "/bin/busybox"
	if _, err := os.Stat(busybox); err != nil {
		testenv.Missing(t, "/bin/busybox not found (apt-get install busybox-static)")
	}
	promBin := testenv.Tool(t, "prometheus")
	nginx := testenv.Tool(t, "nginx")
	llmload := staticLLMLoad(t, ctx, dir)
	tag := fmt.Sprintf("llmload-e2e-%d", os.Getpid())
	const path = "ENV PATH=/usr/local/bin:/usr/sbin:/usr/bin:/bin"
	var img standIns

	sim := rootfs{}
	sim.addHostFile(t, "/llmload", llmload)
	img.dcgm = "llmload-test/dcgm:" + tag
	importImage(t, ctx, docker, img.dcgm, sim, path, `ENTRYPOINT ["/llmload", "sim", "--addr", "0.0.0.0:9400", "--profile", "fixed"]`)

	v := rootfs{}
	v.addHostFile(t, "/llmload", llmload)
	v.addBusybox(t, busybox, "sh")
	v.addText("/usr/local/bin/vllm", standInVLLM, 0o755)
	v.pythonForHealthcheck(t, ctx)
	img.vllm = "llmload-test/vllm:" + tag
	importImage(t, ctx, docker, img.vllm, v, path)
	img.vllmBroken = "llmload-test/vllm-broken:" + tag
	importImage(t, ctx, docker, img.vllmBroken, v, path, "ENV STANDIN_PORT=8001")

	p := rootfs{}
	p.addBinary(t, "/bin/prometheus", promBin)
	p.addBusybox(t, busybox, "sh", "wget", "cat")
	img.prom = "llmload-test/prometheus:" + tag
	importImage(t, ctx, docker, img.prom, p, path, `ENTRYPOINT ["/bin/prometheus"]`)

	img.router = "llmload-test/router:" + tag
	importImage(t, ctx, docker, img.router, nginxRouterFS(t, nginx, busybox), path, `CMD ["nginx", "-g", "daemon off;"]`)
	return img
}

// addBusybox adds a static busybox and its applets as symlinks in /bin.
func (r rootfs) addBusybox(t *testing.T, busybox string, applets ...string) {
	t.Helper()
	r.addHostFile(t, "/bin/busybox", busybox)
	for _, applet := range applets {
		r["/bin/"+applet] = imageFile{mode: 0o777, symlink: "busybox"}
	}
}

// nginxRouterFS stands in for the router image (nginx:alpine) with Debian's
// nginx: its binary and libraries; the user and group its workers switch to
// when started as root with no `user` directive (nobody, nogroup: compiled
// in); the compiled-in temp directory for request bodies and proxied
// answers (/var/lib/nginx) and pid file directory (/run); the access log to
// stdout as in the official image (its error log is compiled to stderr);
// name lookups in /etc/hosts and Docker's DNS for the upstream replicas;
// and busybox's wget for the rendered healthcheck.
func nginxRouterFS(t *testing.T, nginx, busybox string) rootfs {
	t.Helper()
	r := rootfs{}
	r.addBinary(t, "/usr/sbin/nginx", nginx)
	r.addBusybox(t, busybox, "sh", "wget")
	r.addText("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n", 0o644)
	r.addText("/etc/group", "root:x:0:\nnogroup:x:65534:\n", 0o644)
	r.addText("/etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n", 0o644)
	r["/var/lib/nginx"] = imageFile{mode: 0o755, dir: true}
	r["/run"] = imageFile{mode: 0o755, dir: true}
	r["/var/log/nginx/access.log"] = imageFile{mode: 0o777, symlink: "/dev/stdout"}
	return r
}
