package compose

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Compose runs `docker compose -f DIR/compose.yaml ...` for one rendered
// stack. It holds no state between calls; a Compose may be used from one
// goroutine at a time (its writers are not synchronised).
type Compose struct {
	Dir            string
	Stdout, Stderr io.Writer // where docker's own output goes
	// Docker is the docker executable; empty looks up "docker" on PATH.
	Docker string
}

// ErrNoDocker and ErrNoComposePlugin say what is missing on this host.
var (
	ErrNoDocker        = errors.New("docker not found")
	ErrNoComposePlugin = errors.New("docker compose (v2 plugin) not available")
)

// docker returns the docker executable and checks the compose plugin
// answers, so a missing piece is named before anything else runs.
func (c Compose) docker(ctx context.Context) (string, error) {
	name := c.Docker
	if name == "" {
		name = "docker"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%w on PATH (%v): install Docker Engine and its compose plugin, see docs/stack.md#prerequisites", ErrNoDocker, err)
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, path, "compose", "version")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		msg, _, _ := strings.Cut(strings.TrimSpace(out.String()), "\n")
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("%w: `%s compose version` said %q: install the Docker Compose v2 plugin (docker-compose-plugin from Docker's apt repository, or Debian 13's docker-compose package); the Python docker-compose v1 is not supported", ErrNoComposePlugin, path, msg)
	}
	return path, nil
}

// ComposePath returns DIR/compose.yaml, or an error saying how to create it.
func (c Compose) ComposePath() (string, error) {
	p := filepath.Join(c.Dir, ComposeFile)
	if _, err := os.Stat(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%s not found: create the stack first with `llmload stack init --dir %s`", p, c.Dir)
		}
		return "", err
	}
	return p, nil
}

// Run runs `docker compose -f DIR/compose.yaml ARGS...` with docker's output
// going to c.Stdout and c.Stderr.
func (c Compose) Run(ctx context.Context, args ...string) error {
	_, err := c.run(ctx, c.Stdout, args...)
	return err
}

func (c Compose) run(ctx context.Context, stdout io.Writer, args ...string) (string, error) {
	file, err := c.ComposePath()
	if err != nil {
		return "", err
	}
	docker, err := c.docker(ctx)
	if err != nil {
		return "", err
	}
	argv := append([]string{"compose", "-f", file}, args...)
	cmd := exec.CommandContext(ctx, docker, argv...)
	cmd.Stdout, cmd.Stderr = stdout, c.Stderr
	if err := cmd.Run(); err != nil {
		return docker, fmt.Errorf("%s %s: %w", docker, strings.Join(argv, " "), err)
	}
	return docker, nil
}

// Up starts the stack in the background; wait blocks until every service
// with a healthcheck is healthy (vLLM: weights downloaded and loaded).
func (c Compose) Up(ctx context.Context, wait bool) error {
	args := []string{"up", "--detach"}
	if wait {
		args = append(args, "--wait")
	}
	return c.Run(ctx, args...)
}

// Down stops and removes the containers; volumes also deletes the named
// volumes (Prometheus data, Grafana state, the Hugging Face cache).
func (c Compose) Down(ctx context.Context, volumes bool) error {
	args := []string{"down"}
	if volumes {
		args = append(args, "--volumes")
	}
	return c.Run(ctx, args...)
}

// Logs prints the services' logs (all services when none is named).
func (c Compose) Logs(ctx context.Context, follow bool, tail string, services ...string) error {
	args := []string{"logs", "--tail", tail}
	if follow {
		args = append(args, "--follow")
	}
	return c.Run(ctx, append(args, services...)...)
}

// Container is one line of `docker compose ps --format json`.
type Container struct {
	Service string `json:"Service"`
	Name    string `json:"Name"`
	State   string `json:"State"`  // running, exited, restarting, ...
	Health  string `json:"Health"` // healthy, unhealthy, starting, or empty
	Status  string `json:"Status"` // "Up 3 minutes (healthy)"
}

// PS lists the stack's containers, stopped ones included.
func (c Compose) PS(ctx context.Context) ([]Container, error) {
	var out bytes.Buffer
	if _, err := c.run(ctx, &out, "ps", "--all", "--format", "json"); err != nil {
		return nil, err
	}
	return ParsePS(out.Bytes())
}

// ParsePS reads `docker compose ps --format json`: one JSON object per line
// (compose 2.21 and later) or one JSON array (earlier 2.x).
func ParsePS(b []byte) ([]Container, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, nil
	}
	var cs []Container
	if b[0] == '[' {
		if err := json.Unmarshal(b, &cs); err != nil {
			return nil, fmt.Errorf("docker compose ps output: %w", err)
		}
		return cs, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	for dec.More() {
		var c Container
		if err := dec.Decode(&c); err != nil {
			return nil, fmt.Errorf("docker compose ps output, container %d: %w", len(cs)+1, err)
		}
		cs = append(cs, c)
	}
	return cs, nil
}

// Failing returns the containers that keep a stack from being up: unhealthy,
// or not running (exited, dead, restarting, created).
func Failing(cs []Container) []Container {
	var bad []Container
	for _, c := range cs {
		if c.Health == "unhealthy" || (c.State != "running" && c.State != "") {
			bad = append(bad, c)
		}
	}
	return bad
}

// Diagnose names the stack's failing services, each with the output of its
// last healthcheck probe and its last lines of log, for after `up --wait`
// failed (compose itself only says "container NAME is unhealthy"). It
// returns "" when no container is failing or docker cannot be asked.
func (c Compose) Diagnose(ctx context.Context, lines int) string {
	cs, err := c.PS(ctx)
	if err != nil {
		return ""
	}
	var b strings.Builder
	for _, ct := range Failing(cs) {
		fmt.Fprintf(&b, "service %s is %s (container %s, %s)\n", ct.Service, orUnknown(ct.Health, ct.State), ct.Name, ct.Status)
		if probe := c.lastProbe(ctx, ct.Name); probe != "" {
			fmt.Fprintf(&b, "  last healthcheck: %s\n", probe)
		}
		var logs bytes.Buffer
		if _, err := c.run(ctx, &logs, "logs", "--no-color", "--no-log-prefix", "--tail", strconv.Itoa(lines), ct.Service); err != nil {
			fmt.Fprintf(&b, "  (its logs could not be read: %v)\n", err)
			continue
		}
		fmt.Fprintf(&b, "  its last %d log lines:\n", lines)
		for _, l := range strings.Split(strings.TrimRight(logs.String(), "\n"), "\n") {
			fmt.Fprintf(&b, "    %s\n", l)
		}
	}
	return b.String()
}

// lastProbe returns the exit code and the last line of output of a
// container's last healthcheck (a traceback ends with its error, wget with
// why it failed), or "" when it has none.
func (c Compose) lastProbe(ctx context.Context, container string) string {
	docker, err := c.docker(ctx)
	if err != nil {
		return ""
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, docker, "inspect", "--format", "{{json .State.Health}}", container)
	cmd.Stdout = &out
	if cmd.Run() != nil {
		return ""
	}
	var h struct {
		Log []struct {
			ExitCode int    `json:"ExitCode"`
			Output   string `json:"Output"`
		} `json:"Log"`
	}
	if json.Unmarshal(out.Bytes(), &h) != nil || len(h.Log) == 0 {
		return ""
	}
	last := h.Log[len(h.Log)-1]
	lines := strings.Split(strings.TrimSpace(last.Output), "\n")
	return fmt.Sprintf("exit %d: %s", last.ExitCode, oneLine([]byte(lines[len(lines)-1])))
}
