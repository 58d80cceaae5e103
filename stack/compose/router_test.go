package compose

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/llmload/llmload/internal/testenv"
)

// TestRouterConfigNginx: a real nginx (Debian's) parses the rendered
// router/nginx.conf with `nginx -t`: every directive, its arguments and
// context. nginx resolves upstream names while it reads the file, and the
// replicas' names exist only on the stack's network, so this copy points
// them at 127.0.0.1; the docker test (TestStackAgainstDockerEngine in
// cmd/llmload) runs the file as rendered.
func TestRouterConfigNginx(t *testing.T) {
	nginx := testenv.Tool(t, "nginx")
	files, err := Render(goldenCases()["replicas"], t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var conf string
	for _, f := range files {
		if f.Path == RouterFile {
			conf = string(f.Data)
		}
	}
	replica := regexp.MustCompile(`(?m)^(\s*server )vllm-\d+(:8000\b)`)
	if n := len(replica.FindAllString(conf, -1)); n != 2 {
		t.Fatalf("%s: %d upstream servers vllm-N:8000, want 2:\n%s", RouterFile, n, conf)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(replica.ReplaceAllString(conf, "${1}127.0.0.1${2}")), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, nginx, "-t", "-p", dir, "-e", "stderr", "-c", path).CombinedOutput()
	if err != nil || strings.Contains(string(out), "[warn]") {
		t.Errorf("nginx -t on the rendered %s: %v\n%s\n%s", RouterFile, err, out, conf)
	}
}
