package k8s

import (
	"strings"
	"testing"
	"time"
)

func TestValidateNamesTheFlag(t *testing.T) {
	ok := goldenCases()["default"]
	cases := []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"upper-case name", func(o *Options) { o.Name = "LLMLoad" }, `--name "LLMLoad" is not a DNS-1123 label`},
		{"long name", func(o *Options) { o.Name = strings.Repeat("a", 41) }, "--name"},
		{"underscore namespace", func(o *Options) { o.Namespace = "llm_bench" }, `--namespace "llm_bench" is not a DNS-1123 label`},
		{"no shards", func(o *Options) { o.Shards = 0 }, "--shards 0"},
		{"no url", func(o *Options) { o.URL = "" }, "--url is empty"},
		{"url scheme", func(o *Options) { o.URL = "vllm:8000" }, "--url"},
		{"url password", func(o *Options) { o.URL = "http://u:sk-secret@h:8000" }, "--api-key-secret"},
		{"image", func(o *Options) { o.Image = "" }, "--image"},
		{"pull policy", func(o *Options) { o.ImagePullPolicy = "always" }, "--image-pull-policy"},
		{"cpu", func(o *Options) { o.CPU = "two" }, `--cpu "two" is not a Kubernetes quantity`},
		{"memory zero", func(o *Options) { o.Memory = "0" }, "--memory"},
		{"cpu limit", func(o *Options) { o.CPULimit = "-1" }, "--cpu-limit"},
		{"storage size", func(o *Options) { o.StorageSize = "1GB!" }, "--storage-size"},
		{"storage class", func(o *Options) { o.StorageClass = "NFS" }, "--storage-class"},
		{"secret no key", func(o *Options) { o.APIKeySecret = "llm-api" }, "want SECRET/KEY"},
		{"secret name", func(o *Options) { o.APIKeySecret = "LLM/token" }, `the Secret name "LLM"`},
		{"secret key", func(o *Options) { o.APIKeySecret = "llm/to ken" }, `the key "to ken"`},
		{"reserved run arg", func(o *Options) { o.RunArgs = []string{"--shard=1/2"} }, "--run-args: --shard is set by llmload stack k8s"},
		{"api key in run args", func(o *Options) { o.RunArgs = []string{"-api-key", "sk"} }, "--api-key-secret"},
		{"no scenario", func(o *Options) { o.Scenario = File{} }, "no scenario file"},
		{"file name", func(o *Options) { o.Files = []File{{Name: "a b.csv"}} }, "--file a b.csv"},
		{"same file twice", func(o *Options) { o.Files = []File{{Name: "azure_conv.lua"}} }, "two files are named azure_conv.lua"},
		{"too big", func(o *Options) { o.Files = []File{{Name: "t.csv", Data: make([]byte, 1<<20)}} }, "more than a ConfigMap's ~1 MiB"},
		{"metrics port", func(o *Options) { o.MetricsPort = 70000 }, "--metrics-port 70000"},
		{"scrape interval", func(o *Options) { o.ScrapeInterval = 1500 * time.Millisecond }, "--scrape-interval"},
		{"monitor label", func(o *Options) { o.MonitorLabels = map[string]string{"release": "a b"} }, "--monitor-label release=a b"},
		{"no start", func(o *Options) { o.StartAt = time.Time{} }, "--start-at or --start-delay"},
		{"merge timeout", func(o *Options) { o.MergeTimeout = time.Second }, "--merge-timeout"},
	}
	if err := ok.Validate(); err != nil {
		t.Fatalf("the default case: %v", err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := ok
			c.edit(&o)
			err := o.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v; want one containing %q", err, c.want)
			}
			if strings.Contains(err.Error(), "sk-secret") {
				t.Errorf("the error repeats the URL's password: %v", err)
			}
			if _, rerr := Render(o); rerr == nil {
				t.Error("Render accepted options Validate refuses")
			}
		})
	}
}

// A scenario option that looks like a reserved flag only after its
// value (rate=--out) is not refused.
func TestRunArgsValuesAreNotFlags(t *testing.T) {
	o := goldenCases()["default"]
	o.RunArgs = []string{"label=--out", "--seed", "3"}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
}

func FuzzParseSecretRef(f *testing.F) {
	for _, s := range []string{"llm-api/token", "a/b/c", "/", "a/", "x.y/z_1", "A/b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		name, key, err := ParseSecretRef(ref)
		if err != nil {
			if !strings.Contains(err.Error(), "--api-key-secret") {
				t.Fatalf("error does not name the flag: %v", err)
			}
			return
		}
		if name+"/"+key != ref || name == "" || key == "" || strings.Contains(name, "/") {
			t.Fatalf("%q split into %q and %q", ref, name, key)
		}
	})
}
