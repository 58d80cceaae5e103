package compose

import (
	"context"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// loadCompose loads a rendered compose.yaml with compose-go, the loader
// docker compose itself uses: schema validation, interpolation of ${VAR}
// from env, and the consistency checks (volumes declared, depends_on
// targets exist) run exactly as `docker compose up` would run them.
func loadCompose(t *testing.T, o Options, env map[string]string) *types.Project {
	t.Helper()
	dir := t.TempDir()
	files, err := Render(o, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, files, false); err != nil {
		t.Fatal(err)
	}
	p, err := loadComposeDir(dir, env)
	if err != nil {
		t.Fatalf("compose-go rejects the rendered compose.yaml: %v", err)
	}
	return p
}

// loadComposeDir loads dir/compose.yaml with env as the environment, plus
// the GRAFANA_ADMIN_PASSWORD that init writes into .env (read by docker
// compose, not by the loader) unless env sets it.
func loadComposeDir(dir string, env map[string]string) (*types.Project, error) {
	env = maps.Clone(env)
	if env == nil {
		env = map[string]string{}
	}
	if _, ok := env[GrafanaPasswordVar]; !ok {
		env[GrafanaPasswordVar] = "from-dot-env"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return loader.LoadWithContext(ctx, types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(dir, ComposeFile)}},
		Environment: env,
	}, func(lo *loader.Options) { lo.SetProjectName("llmload-stack", true) })
}

// TestComposeGrafanaPassword: Grafana's admin password comes from .env,
// and compose refuses to start without one instead of defaulting to admin;
// anonymous viewing is off unless asked.
func TestComposeGrafanaPassword(t *testing.T) {
	dir := t.TempDir()
	files, err := Render(Defaults(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, files, false); err != nil {
		t.Fatal(err)
	}
	if _, err := loadComposeDir(dir, map[string]string{GrafanaPasswordVar: ""}); err == nil || !strings.Contains(err.Error(), "set GRAFANA_ADMIN_PASSWORD in .env") {
		t.Errorf("no password: %v", err)
	}
	p, err := loadComposeDir(dir, map[string]string{GrafanaPasswordVar: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	g := p.Services["grafana"].Environment
	if pw := g["GF_SECURITY_ADMIN_PASSWORD"]; pw == nil || *pw != "s3cret" {
		t.Errorf("admin password %v", pw)
	}
	if anon := g["GF_AUTH_ANONYMOUS_ENABLED"]; anon == nil || *anon != "false" {
		t.Errorf("anonymous access %v, want false by default", anon)
	}
	o := Defaults()
	o.GrafanaAnonymous = true
	if anon := loadCompose(t, o, nil).Services["grafana"].Environment["GF_AUTH_ANONYMOUS_ENABLED"]; anon == nil || *anon != "true" {
		t.Errorf("--grafana-anonymous: %v", anon)
	}
}

func TestComposeFileLoadsWithComposeGo(t *testing.T) {
	p := loadCompose(t, Defaults(), map[string]string{"HF_TOKEN": "hf_secret"})

	names := p.ServiceNames()
	slices.Sort(names)
	if want := []string{"dcgm-exporter", "grafana", "prometheus", "vllm"}; !slices.Equal(names, want) {
		t.Fatalf("services %v, want %v", names, want)
	}
	vllm := p.Services["vllm"]
	if vllm.Image != DefaultVLLMImage {
		t.Errorf("vllm image %q", vllm.Image)
	}
	// The model is vllm serve's positional argument (--model is deprecated),
	// and --max-model-len auto keeps a 128k-context model from failing at
	// start on a small GPU.
	if got := vllm.Entrypoint; !slices.Equal(got, []string{"vllm", "serve"}) {
		t.Errorf("vllm entrypoint %q, want [vllm serve]", got)
	}
	if got := vllm.Command; got[0] != Defaults().Model || slices.Contains(got, "--model") || !slices.Contains(got, "0.0.0.0") ||
		!slices.Contains(got, "--max-model-len") || got[slices.Index(got, "--max-model-len")+1] != "auto" {
		t.Errorf("vllm command %q, want the model first and --max-model-len auto", got)
	}
	if tok := vllm.Environment["HF_TOKEN"]; tok == nil || *tok != "hf_secret" {
		t.Errorf("HF_TOKEN not interpolated from the environment: %v", tok)
	}
	if vllm.Ipc != "host" {
		t.Errorf("vllm ipc %q, want host", vllm.Ipc)
	}
	// Profiling fields (DCGM_FI_PROF_*) need SYS_ADMIN; the counters file
	// the dashboard depends on is mounted where the variable points.
	dcgm := p.Services["dcgm-exporter"]
	if !slices.Contains(dcgm.CapAdd, "SYS_ADMIN") {
		t.Errorf("dcgm-exporter cap_add %v, want SYS_ADMIN", dcgm.CapAdd)
	}
	if col := dcgm.Environment["DCGM_EXPORTER_COLLECTORS"]; col == nil || len(dcgm.Volumes) != 1 || dcgm.Volumes[0].Target != *col ||
		dcgm.Volumes[0].Source != filepath.Join(p.WorkingDir, "dcgm", "counters.csv") {
		t.Errorf("dcgm-exporter collectors %v, volumes %+v", col, dcgm.Volumes)
	}
	for _, svc := range []string{"vllm", "dcgm-exporter"} {
		d := gpuRequest(t, p.Services[svc])
		if d.Count != -1 || len(d.IDs) != 0 {
			t.Errorf("%s: --gpus all should reserve count all (-1), got count %d ids %v", svc, d.Count, d.IDs)
		}
	}
	for svc, want := range map[string]string{"vllm": "8000:8000", "dcgm-exporter": "9400:9400", "prometheus": "9090:9090", "grafana": "3000:3000"} {
		ports := p.Services[svc].Ports
		if len(ports) != 1 || ports[0].Published+":"+strconv.Itoa(int(ports[0].Target)) != want || ports[0].HostIP != "127.0.0.1" {
			t.Errorf("%s ports %+v, want %s on 127.0.0.1 only", svc, ports, want)
		}
	}
	for _, svc := range []string{"vllm", "prometheus", "grafana"} {
		hc := p.Services[svc].HealthCheck
		if hc == nil || len(hc.Test) < 2 || hc.Test[0] != "CMD" {
			t.Errorf("%s has no CMD healthcheck: %+v", svc, hc)
		}
	}
	if dep, ok := p.Services["grafana"].DependsOn["prometheus"]; !ok || dep.Condition != types.ServiceConditionHealthy {
		t.Errorf("grafana should wait for a healthy prometheus: %+v", p.Services["grafana"].DependsOn)
	}
	for _, v := range []string{"hf-cache", "prometheus-data", "grafana-data"} {
		if _, ok := p.Volumes[v]; !ok {
			t.Errorf("named volume %s not declared", v)
		}
	}
	mounts := map[string]types.ServiceVolumeConfig{}
	for _, svc := range p.Services {
		for _, v := range svc.Volumes {
			mounts[svc.Name+" "+v.Target] = v
		}
	}
	for key, want := range map[string]struct{ typ, src string }{
		"vllm /root/.cache/huggingface":             {"volume", "hf-cache"},
		"prometheus /prometheus":                    {"volume", "prometheus-data"},
		"prometheus /etc/prometheus/prometheus.yml": {"bind", filepath.Join(p.WorkingDir, "prometheus", "prometheus.yml")},
		"grafana /etc/grafana/provisioning":         {"bind", filepath.Join(p.WorkingDir, "grafana", "provisioning")},
		"grafana /etc/grafana/dashboards":           {"bind", filepath.Join(p.WorkingDir, "grafana", "dashboards")},
		"grafana /var/lib/grafana":                  {"volume", "grafana-data"},
	} {
		m, ok := mounts[key]
		if !ok || m.Type != want.typ || m.Source != want.src {
			t.Errorf("mount %s = %+v, want %s from %s", key, m, want.typ, want.src)
		}
	}
	if !slices.Contains(p.Services["prometheus"].ExtraHosts["host.docker.internal"], "host-gateway") {
		t.Errorf("prometheus cannot reach the host's llmload exporter: extra_hosts %v", p.Services["prometheus"].ExtraHosts)
	}
}

func TestComposeFileCustomOptionsLoad(t *testing.T) {
	o := goldenCases()["custom"]
	p := loadCompose(t, o, map[string]string{"MY_HF_TOKEN": "hf_x", "HOME": "/root"})
	vllm := p.Services["vllm"]
	// The $ in --vllm-args is a literal after compose's interpolation.
	if !slices.Contains(vllm.Command, "/t/$HOME's.jinja") {
		t.Errorf("a literal $ in --vllm-args was interpolated: %q", vllm.Command)
	}
	if tok := vllm.Environment["HF_TOKEN"]; tok == nil || *tok != "hf_x" {
		t.Errorf("HF_TOKEN should come from MY_HF_TOKEN: %v", tok)
	}
	for _, svc := range []string{"vllm", "dcgm-exporter"} {
		if d := gpuRequest(t, p.Services[svc]); !slices.Equal(d.IDs, []string{"0", "1"}) || d.Count != 0 {
			t.Errorf("%s devices %+v, want ids 0,1", svc, d)
		}
	}
	for svc, want := range map[string]string{"vllm": "18000", "dcgm-exporter": "19400", "prometheus": "19090", "grafana": "13000"} {
		ports := p.Services[svc].Ports
		if len(ports) != 1 || ports[0].Published != want || ports[0].HostIP != "127.0.0.1" {
			t.Errorf("%s ports %+v, want 127.0.0.1:%s", svc, ports, want)
		}
	}
	if _, ok := p.Volumes["hf-cache"]; ok {
		t.Error("hf-cache volume declared although --hf-cache is a host path")
	}
	hf := vllm.Volumes[0]
	if hf.Type != "bind" || hf.Source != "/data/hf" {
		t.Errorf("HF cache mount %+v, want a bind of /data/hf", hf)
	}
	if got := p.Services["dcgm-exporter"].Environment["DCGM_EXPORTER_INTERVAL"]; got == nil || *got != "2000" {
		t.Errorf("DCGM collection interval %v, want 2000 ms", got)
	}
}

func TestComposeFileUnsetTokenIsEmpty(t *testing.T) {
	p := loadCompose(t, Defaults(), map[string]string{})
	if tok := p.Services["vllm"].Environment["HF_TOKEN"]; tok == nil || *tok != "" {
		t.Errorf("unset HF_TOKEN should interpolate to empty, got %v", tok)
	}
	if tok := p.Services["vllm"].Environment["VLLM_API_KEY"]; tok == nil || *tok != "" {
		t.Errorf("unset VLLM_API_KEY should interpolate to empty (no key), got %v", tok)
	}
	if !strings.HasSuffix(p.Services["grafana"].Image, DefaultGrafanaImage[strings.Index(DefaultGrafanaImage, ":"):]) {
		t.Errorf("grafana image %q", p.Services["grafana"].Image)
	}
}

func gpuRequest(t *testing.T, s types.ServiceConfig) types.DeviceRequest {
	t.Helper()
	if s.Deploy == nil || s.Deploy.Resources.Reservations == nil || len(s.Deploy.Resources.Reservations.Devices) != 1 {
		t.Fatalf("%s has no deploy.resources.reservations.devices entry", s.Name)
	}
	d := s.Deploy.Resources.Reservations.Devices[0]
	if d.Driver != "nvidia" || !slices.Equal(d.Capabilities, []string{"gpu"}) {
		t.Errorf("%s device request %+v, want driver nvidia with capability gpu", s.Name, d)
	}
	return d
}

// TestComposeReplicas: --replicas 2 --tensor-parallel-size 2 on --gpus all
// loads with compose-go as two vLLM containers on GPUs 0,1 and 2,3 behind
// the router, which alone publishes the API port; Prometheus scrapes each
// replica and mounts the rules; the run line's --gpu-ids cover all four.
func TestComposeReplicas(t *testing.T) {
	o := goldenCases()["replicas"]
	p := loadCompose(t, o, nil)
	for name, ids := range map[string][]string{"vllm-1": {"0", "1"}, "vllm-2": {"2", "3"}} {
		svc, ok := p.Services[name]
		if !ok {
			t.Fatalf("no service %s", name)
		}
		if d := gpuRequest(t, svc); !slices.Equal(d.IDs, ids) {
			t.Errorf("%s devices %+v, want ids %v", name, d, ids)
		}
		if len(svc.Ports) != 0 {
			t.Errorf("%s publishes %+v; only the router should", name, svc.Ports)
		}
		if !slices.Contains(svc.Command, "--tensor-parallel-size") {
			t.Errorf("%s command %q lacks --tensor-parallel-size", name, svc.Command)
		}
	}
	router := p.Services["vllm"]
	if router.Image != DefaultRouterImage || len(router.Ports) != 1 || router.Ports[0].Published != "8000" {
		t.Errorf("router %s ports %+v, want %s on 8000", router.Image, router.Ports, DefaultRouterImage)
	}
	if _, ok := router.DependsOn["vllm-2"]; !ok {
		t.Errorf("router depends on %v, want the replicas (nginx resolves them at start)", router.DependsOn)
	}
	if d := gpuRequest(t, p.Services["dcgm-exporter"]); d.Count != -1 && len(d.IDs) != 0 {
		t.Errorf("dcgm-exporter devices %+v, want all (it watches every replica's GPUs)", d)
	}
	files, err := Render(o, "x")
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]string{}
	for _, f := range files {
		byPath[f.Path] = string(f.Data)
	}
	if !strings.Contains(byPath[PrometheusFile], `["vllm-1:8000", "vllm-2:8000"]`) {
		t.Errorf("prometheus.yml does not scrape each replica:\n%s", byPath[PrometheusFile])
	}
	if !strings.Contains(byPath[RouterFile], "server vllm-2:8000") {
		t.Errorf("router/nginx.conf lacks replica 2:\n%s", byPath[RouterFile])
	}
	if got := o.ServedGPUs(); !slices.Equal(got, []string{"0", "1", "2", "3"}) {
		t.Errorf("served GPUs %v, want 0-3", got)
	}
}
