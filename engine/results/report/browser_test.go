package report

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// browser is headless chromium with every request of the page sent to a
// recording proxy on 127.0.0.1 (which answers 403), so a test can check
// that nothing left the file.
type browser struct {
	t       *testing.T
	bin     string
	proxy   *httptest.Server
	hits    atomic.Int64
	profile string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed, and CI must run the browser test: .ci/run installs it (apt-get install chromium)")
		}
		t.Skip("chromium is not installed: apt-get install chromium to run the browser test (CI always runs it)")
	}
	b := &browser{t: t, bin: bin, profile: t.TempDir()}
	b.proxy = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if browserOwn[hostOf(r)] {
			http.Error(w, "no network in tests", http.StatusForbidden)
			return
		}
		b.hits.Add(1)
		t.Logf("request left the page: %s %s", r.Method, r.URL)
		http.Error(w, "no network in tests", http.StatusForbidden)
	}))
	t.Cleanup(b.proxy.Close)
	return b
}

// run runs chromium on the file with extra flags; it returns stdout and
// the page's console messages.
func (b *browser) run(file string, extra ...string) (stdout []byte, console []string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
		"--force-device-scale-factor=1", "--user-data-dir=" + b.profile,
		"--proxy-server=" + strings.TrimPrefix(b.proxy.URL, "http://"), "--proxy-bypass-list=<-loopback>",
		"--enable-logging=stderr", "--v=0",
		// The browser's own traffic (updates, time, accounts) is not the page's.
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-default-apps", "--no-pings", "--disable-domain-reliability",
		"--disable-client-side-phishing-detection", "--disable-features=OptimizationHints,Translate,MediaRouter",
	}, extra...)
	args = append(args, "file://"+file)
	cmd := exec.CommandContext(ctx, b.bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		b.t.Fatalf("chromium %v: %v\n%s", args, err, errb.String())
	}
	for _, l := range strings.Split(errb.String(), "\n") {
		if strings.Contains(l, ":CONSOLE") {
			console = append(console, l)
		}
	}
	return out.Bytes(), console
}

// browserOwn are the hosts chromium itself calls (component updates, its
// clock check, accounts) whatever page it shows, with the flags above or
// not; a page's request to any other host counts.
var browserOwn = map[string]bool{
	"clients2.google.com": true, "update.googleapis.com": true,
	"redirector.gvt1.com": true, "accounts.google.com": true,
}

func hostOf(r *http.Request) string {
	h := r.Host
	if r.URL.Host != "" {
		h = r.URL.Host
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	return h
}

var boxRe = regexp.MustCompile(`<svg class="chart" id="([^"]+)"[^>]*data-box="(\d+),(\d+),(\d+),(\d+)"`)

// TestReportInBrowser opens report.html (one run, two overlaid, and a
// capacity search's) in headless chromium with the network cut: it loads
// with no console message, no request leaves the file, and every chart's
// box in a screenshot has ink (its pixels vary).
func TestReportInBrowser(t *testing.T) {
	b := newBrowser(t)
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		dirs []string
	}{{"one.html", []string{"testdata/run"}}, {"two.html", []string{"testdata/run", "testdata/run"}},
		{"capacity.html", []string{capacityRun(t, nil)}}} {
		path := filepath.Join(dir, c.name)
		if err := WriteFile(path, c.dirs, "test"); err != nil {
			t.Fatal(err)
		}
		dom, console := b.run(path, "--dump-dom", "--window-size=1300,900")
		if len(console) > 0 {
			t.Errorf("%s: console messages:\n%s", c.name, strings.Join(console, "\n"))
		}
		boxes := boxRe.FindAllSubmatch(dom, -1)
		if c.name == "capacity.html" && !strings.Contains(string(dom), `id="capacity-0-goodput"`) {
			t.Errorf("%s: no capacity charts", c.name)
		}
		if len(boxes) < 15 {
			t.Fatalf("%s: %d charts placed on the page, want every chart (>= 15)", c.name, len(boxes))
		}
		height := 0
		if m := regexp.MustCompile(`data-height="(\d+)"`).FindSubmatch(dom); m != nil {
			height, _ = strconv.Atoi(string(m[1]))
		}
		if height == 0 {
			t.Fatalf("%s: the page did not report its height (its script did not run)", c.name)
		}
		shot := filepath.Join(dir, c.name+".png")
		b.run(path, "--screenshot="+shot, "--window-size=1300,"+strconv.Itoa(height))
		img := decodePNG(t, shot)
		for _, m := range boxes {
			x, _ := strconv.Atoi(string(m[2]))
			y, _ := strconv.Atoi(string(m[3]))
			w, _ := strconv.Atoi(string(m[4]))
			h, _ := strconv.Atoi(string(m[5]))
			if sd, ink := inkOf(img, image.Rect(x, y, x+w, y+h)); sd < 10 || ink < 0.01 {
				t.Errorf("%s: chart %s at %d,%d %dx%d looks blank: luminance sd %.1f, %.1f%% ink", c.name, m[1], x, y, w, h, sd, ink*100)
			}
		}
	}
	if n := b.hits.Load(); n > 0 {
		t.Errorf("%d requests left the report", n)
	}
}

// TestBrowserCheckCanFail: the same checks catch a page that logs an
// error and loads a remote image, so TestReportInBrowser can fail.
func TestBrowserCheckCanFail(t *testing.T) {
	b := newBrowser(t)
	path := filepath.Join(t.TempDir(), "bad.html")
	page := `<html><body><script>console.error("boom")</script><img src="http://example.invalid/x.png"></body></html>`
	if err := os.WriteFile(path, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	_, console := b.run(path, "--dump-dom")
	if len(console) == 0 {
		t.Error("console.error was not seen")
	}
	if b.hits.Load() == 0 {
		t.Error("the remote image's request was not seen")
	}
}

func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// inkOf returns the standard deviation of luminance in r and the share of
// its pixels that are not near-white.
func inkOf(img image.Image, r image.Rectangle) (sd, ink float64) {
	r = r.Intersect(img.Bounds())
	if r.Empty() {
		return 0, 0
	}
	var n, sum, sq, dark float64
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			l := (0.299*float64(cr) + 0.587*float64(cg) + 0.114*float64(cb)) / 257
			n++
			sum += l
			sq += l * l
			if l < 230 {
				dark++
			}
		}
	}
	mean := sum / n
	return math.Sqrt(math.Max(sq/n-mean*mean, 0)), dark / n
}
