package compose

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenCases are the option sets whose rendered files are kept in
// testdata/golden/NAME: the defaults, and one that sets every flag.
func goldenCases() map[string]Options {
	custom := Defaults()
	custom.Model = "Qwen/Qwen3-8B"
	custom.GPUs = "0,1"
	custom.VLLMImage = "vllm/vllm-openai:v0.31.0-cu129"
	custom.VLLMArgs = []string{"--tensor-parallel-size", "2", "--max-model-len", "8192", "--chat-template", "/t/$HOME's.jinja"}
	custom.HFTokenEnv = "MY_HF_TOKEN"
	custom.HFCache = "/data/hf"
	custom.Bind = "127.0.0.1"
	custom.Port, custom.DCGMPort, custom.GrafanaPort, custom.PrometheusPort = 18000, 19400, 13000, 19090
	custom.ClientMetrics = []string{"host.docker.internal:9464", "10.0.0.7:9464"}
	custom.ScrapeInterval = 2 * time.Second
	custom.Version = "v1.2.3"
	custom.GrafanaAnonymous = true

	noClient := Defaults()
	noClient.ClientMetrics = nil

	// The end-to-end test's shape: stand-in images, no GPU, no Grafana.
	standIn := Defaults()
	standIn.GPUs = GPUsNone
	standIn.NoGrafana = true
	standIn.Bind = "0.0.0.0"
	standIn.HealthStartPeriod = 90 * time.Second
	standIn.VLLMImage, standIn.DCGMImage, standIn.PrometheusImage = "llmload-test/vllm:e2e", "llmload-test/dcgm:e2e", "llmload-test/prometheus:e2e"
	// Two vLLM replicas of two GPUs each on a node's first four GPUs,
	// behind the router, with objectives of their own.
	replicas := Defaults()
	replicas.TensorParallel, replicas.Replicas = 2, 2
	replicas.Alerts.TTFTp99, replicas.Alerts.QueueDepth, replicas.Alerts.For = 500*time.Millisecond, 4, 2*time.Minute
	return map[string]Options{"default": Defaults(), "custom": custom, "noclient": noClient, "standin": standIn, "replicas": replicas}
}

func TestRenderGolden(t *testing.T) {
	for name, o := range goldenCases() {
		t.Run(name, func(t *testing.T) {
			files, err := Render(o, "llmload-stack")
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join("testdata", "golden", name)
			if name != "default" {
				// The dashboard depends on the options only in the gpu
				// variable's default (TestDashboardGPUSelection): keep one copy.
				files = slices.DeleteFunc(files, func(f File) bool { return f.Path == DashboardFile })
			}
			if *update {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				if err := Write(dir, files, false); err != nil {
					t.Fatal(err)
				}
				return
			}
			for _, f := range files {
				want, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
				if err != nil {
					t.Fatalf("%v (run go test ./stack/compose -run TestRenderGolden -update)", err)
				}
				if !bytes.Equal(f.Data, want) {
					t.Errorf("%s/%s differs from the golden file (-update to accept):\n%s", name, f.Path, firstDiff(string(want), string(f.Data)))
				}
			}
		})
	}
}

// firstDiff shows the first differing line of two texts.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + wl + "\n  got:  " + gl
		}
	}
	return "(same lines, different bytes)"
}

func TestRenderIsDeterministic(t *testing.T) {
	o := goldenCases()["custom"]
	a, err := Render(o, "d")
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		b, err := Render(o, "d")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(a, b, func(x, y File) bool { return x.Path == y.Path && bytes.Equal(x.Data, y.Data) }) {
			t.Fatal("two renders of the same options differ")
		}
	}
}

func TestRenderSetsWhatTheOptionsSay(t *testing.T) {
	files, err := Render(goldenCases()["custom"], "d")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range files {
		got[f.Path] = string(f.Data)
	}
	c := got[ComposeFile]
	for _, want := range []string{
		`"127.0.0.1:18000:8000"`, `"127.0.0.1:19400:9400"`, `"127.0.0.1:13000:3000"`, `"127.0.0.1:19090:9090"`,
		`device_ids: ["0", "1"]`, `"/data/hf:/root/.cache/huggingface"`, `HF_TOKEN: "${MY_HF_TOKEN:-}"`,
		`"/t/$$HOME's.jinja"`, `DCGM_EXPORTER_INTERVAL: "2000"`, `image: "vllm/vllm-openai:v0.31.0-cu129"`,
	} {
		if !strings.Contains(c, want) {
			t.Errorf("compose.yaml lacks %s", want)
		}
	}
	if strings.Contains(c, "hf-cache:") {
		t.Error("compose.yaml declares the hf-cache volume although --hf-cache names a host directory")
	}
	p := got[PrometheusFile]
	for _, want := range []string{`scrape_interval: 2s`, `scrape_timeout: 1600ms`, `["host.docker.internal:9464", "10.0.0.7:9464"]`} {
		if !strings.Contains(p, want) {
			t.Errorf("prometheus.yml lacks %s", want)
		}
	}
	noClient, err := Render(goldenCases()["noclient"], "d")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(noClient[1].Data), `job_name: "llmload"`) {
		t.Error("prometheus.yml has an llmload job although --client-metrics is empty")
	}
}

func TestValidateNamesTheFlag(t *testing.T) {
	cases := []struct {
		mutate func(*Options)
		want   string
	}{
		{func(o *Options) { o.Model = " " }, "--model"},
		{func(o *Options) { o.GPUs = "0,x" }, "--gpus"},
		{func(o *Options) { o.GPUs = "1,1" }, "twice"},
		{func(o *Options) { o.GPUs = "" }, "--gpus"},
		{func(o *Options) { o.VLLMImage = "vllm openai" }, "--vllm-image"},
		{func(o *Options) { o.VLLMArgs = []string{"--port", "9000"} }, "--vllm-args: --port"},
		{func(o *Options) { o.VLLMArgs = []string{"--model=x"} }, "--vllm-args: --model"},
		{func(o *Options) { o.VLLMArgs = []string{"--host"} }, "--vllm-args: --host"},
		{func(o *Options) { o.HFTokenEnv = "HF-TOKEN" }, "--hf-token-env"},
		{func(o *Options) { o.HFCache = "/a:b" }, "--hf-cache"},
		{func(o *Options) { o.Bind = "localhost" }, "--bind"},
		{func(o *Options) { o.Port = 0 }, "--port 0"},
		{func(o *Options) { o.GrafanaPort = 70000 }, "--grafana-port"},
		{func(o *Options) { o.DCGMPort = -1 }, "--dcgm-port"},
		{func(o *Options) { o.PrometheusPort = o.Port }, "--port and --prometheus-port are both"},
		{func(o *Options) { o.ClientMetrics = []string{"nohost"} }, "--client-metrics"},
		{func(o *Options) { o.ClientMetrics = []string{"h:0"} }, "--client-metrics"},
		{func(o *Options) { o.ScrapeInterval = 1500 * time.Millisecond }, "--scrape-interval"},
		{func(o *Options) { o.Replicas = 0 }, "--replicas 0"},
		{func(o *Options) { o.TensorParallel = -1 }, "--tensor-parallel-size -1"},
		{func(o *Options) { o.TensorParallel, o.VLLMArgs = 2, []string{"-tp", "2"} }, "--tensor-parallel-size 2 and --vllm-args"},
		{func(o *Options) { o.GPUs, o.Replicas, o.TensorParallel = "0,1,2", 2, 2 }, `--gpus "0,1,2" has 3 GPU(s) but 2 replica(s) x 2 GPU(s)`},
		{func(o *Options) { o.RouterImage = "" }, "--router-image"},
		{func(o *Options) { o.Alerts.QueueDepth = 0 }, "--alert-queue"},
	}
	for _, c := range cases {
		o := Defaults()
		c.mutate(&o)
		_, err := Render(o, "d")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an error naming %q, got %v", c.want, err)
		}
	}
	if err := Defaults().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

func TestTensorParallelHint(t *testing.T) {
	o := Defaults()
	o.GPUs = "0,1"
	if o.TensorParallelHint() == "" {
		t.Error("two GPUs without --tensor-parallel-size: want a hint")
	}
	o.VLLMArgs = []string{"--tensor-parallel-size=2"}
	if h := o.TensorParallelHint(); h != "" {
		t.Errorf("tensor parallel set, got hint %q", h)
	}
	o.GPUs = "all"
	o.VLLMArgs = nil
	if h := o.TensorParallelHint(); h != "" {
		t.Errorf("--gpus all: got hint %q", h)
	}
}

func TestWriteRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	files, err := Render(Defaults(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, files, false); err != nil {
		t.Fatal(err)
	}
	edited := filepath.Join(dir, PrometheusFile)
	if err := os.WriteFile(edited, []byte("edited"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = Write(dir, files, false)
	if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("want ErrExists naming --force, got %v", err)
	}
	if b, _ := os.ReadFile(edited); string(b) != "edited" {
		t.Fatal("a refused Write changed a file")
	}
	if err := Write(dir, files, true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(edited); string(b) == "edited" {
		t.Fatal("Write with force left the old file")
	}
	st, err := ReadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Port != 8000 || st.Model != Defaults().Model {
		t.Errorf("stack.json: %+v", st)
	}
	if _, err := ReadState(t.TempDir()); err == nil || !strings.Contains(err.Error(), "llmload stack init") {
		t.Errorf("missing stack.json: want a hint to run init, got %v", err)
	}
}

func TestSplitArgs(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"  ", nil},
		{"--a 1  --b\t2", []string{"--a", "1", "--b", "2"}},
		{`--x '{"a": 1}'`, []string{"--x", `{"a": 1}`}},
		{`--x "a \"b\" \$c \\ \n"`, []string{"--x", `a "b" $c \ \n`}},
		{`a\ b c''`, []string{"a b", "c"}},
		{`''`, []string{""}},
		{`pre"mid"'post'`, []string{"premidpost"}},
	}
	for _, c := range cases {
		got, err := SplitArgs(c.in)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("SplitArgs(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{`'open`, `"open`, `trailing\`} {
		if _, err := SplitArgs(bad); err == nil {
			t.Errorf("SplitArgs(%q): want an error", bad)
		}
	}
}

// shellQuote quotes each argument for a POSIX shell.
func shellQuote(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("'" + strings.ReplaceAll(a, "'", `'\''`) + "'")
	}
	return b.String()
}

// FuzzSplitArgs: whatever SplitArgs accepts, quoting its result and
// splitting again gives the same words.
func FuzzSplitArgs(f *testing.F) {
	for _, s := range []string{"--a 1", `--x '{"a": 1}'`, `"a \"b\""`, `a\ b`, `''`, "\t\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args, err := SplitArgs(s)
		if err != nil {
			return
		}
		again, err := SplitArgs(shellQuote(args))
		if err != nil || !slices.Equal(args, again) {
			t.Fatalf("SplitArgs(%q) = %q; requoted %q -> %q, %v", s, args, shellQuote(args), again, err)
		}
	})
}

func TestComposeDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * time.Minute: "30m", 90 * time.Second: "1m30s", 45 * time.Second: "45s",
		2*time.Hour + 30*time.Minute: "2h30m", time.Hour + 5*time.Second: "1h5s", 0: "0s",
	} {
		if got := composeDuration(d); got != want {
			t.Errorf("composeDuration(%s) = %q, want %q", d, got, want)
		}
	}
}

// TestServedGPUs: energy is attributed to the GPUs vLLM uses: the first
// tensor x pipeline x data parallel size of those reserved, --gpus all
// included.
func TestServedGPUs(t *testing.T) {
	for _, c := range []struct {
		gpus string
		args []string
		want string
	}{
		{"all", nil, "[0]"},
		{"all", []string{"--tensor-parallel-size", "4"}, "[0 1 2 3]"},
		{"all", []string{"-tp=2", "--pipeline-parallel-size", "2"}, "[0 1 2 3]"},
		{"2,3", nil, "[0]"},
		{"2,3", []string{"--tensor-parallel-size=2"}, "[0 1]"},
		{"2,3", []string{"--tensor-parallel-size", "8"}, "[0 1]"},
		{"GPU-aa,GPU-bb", []string{"-tp", "1"}, "[GPU-aa]"},
		{"none", nil, "[]"},
	} {
		o := Defaults()
		o.GPUs, o.VLLMArgs = c.gpus, c.args
		if got := fmt.Sprint(o.ServedGPUs()); got != c.want {
			t.Errorf("--gpus %s --vllm-args %q: %s, want %s", c.gpus, c.args, got, c.want)
		}
	}
	// Replicas: each takes the next tensor-parallel-size GPUs.
	for _, c := range []struct {
		gpus         string
		tp, replicas int
		served, each string
	}{
		{"all", 0, 3, "[0 1 2]", "[[0] [1] [2]]"},
		{"all", 2, 2, "[0 1 2 3]", "[[0 1] [2 3]]"},
		{"4,5,6,7", 2, 2, "[0 1 2 3]", "[[4 5] [6 7]]"},
		{"GPU-a,GPU-b,GPU-c", 1, 2, "[GPU-a GPU-b]", "[[GPU-a] [GPU-b]]"},
		{"none", 1, 2, "[]", "[]"},
	} {
		o := Defaults()
		o.GPUs, o.TensorParallel, o.Replicas = c.gpus, c.tp, c.replicas
		if got := fmt.Sprint(o.ServedGPUs()); got != c.served {
			t.Errorf("--gpus %s -tp %d --replicas %d: served %s, want %s", c.gpus, c.tp, c.replicas, got, c.served)
		}
		if got := fmt.Sprint(o.replicaDevices()); got != c.each {
			t.Errorf("--gpus %s -tp %d --replicas %d: replicas reserve %s, want %s", c.gpus, c.tp, c.replicas, got, c.each)
		}
	}
}
