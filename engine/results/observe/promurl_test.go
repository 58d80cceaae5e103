package observe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestParseProm(t *testing.T) {
	q, err := ParseProm(`prom+https://prom.example:9090/prometheus/?selector={namespace="llm",app=~"vllm.+",route="a&b"}&by=pod&final_wait=5s`)
	if err != nil {
		t.Fatal(err)
	}
	want := PromQuery{API: "https://prom.example:9090/prometheus", Selector: `{namespace="llm",app=~"vllm.+",route="a&b"}`, By: "pod", FinalWait: 5 * time.Second}
	if q != want {
		t.Errorf("got %+v\nwant %+v", q, want)
	}
	q, err = ParseProm(`prom+http://p:9090?selector=%7Bjob%3D%22vllm%22%7D`)
	if err != nil || q.Selector != `{job="vllm"}` || q.By != "instance" || q.FinalWait != DefaultFinalWait {
		t.Errorf("escaped selector: %+v, %v", q, err)
	}
	for _, c := range []struct{ in, want string }{
		{`prom+http://p:9090`, "has no selector"},
		{`prom+http://p:9090?selector=job="x"`, "want label matchers in braces"},
		{`prom+http://p:9090?selector={job="x}`, `unclosed "`},
		{`prom+http://p:9090?selector={}&selectr={}`, `unknown parameter "selectr" (did you mean selector?)`},
		{`prom+http://p:9090?selector={}&token=abc`, "LLMLOAD_PROMETHEUS_TOKEN"},
		{`prom+http://u:pw@p:9090?selector={}`, "LLMLOAD_PROMETHEUS_TOKEN"},
		{`prom+ftp://p:9090?selector={}`, "want an http:// or https:// URL"},
		{`prom+http://p:99999?selector={}`, "not a port number"},
		{`prom+http://p:9090?selector={}&final_wait=soon`, "final_wait=soon is not a duration"},
		{`prom+http://p:9090?selector={}&by=`, "by= is empty"},
	} {
		_, err := ParseProm(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.in, err, c.want)
		}
		if err != nil && (strings.Contains(err.Error(), "abc") || strings.Contains(err.Error(), "pw")) {
			t.Errorf("%s: error %q shows the secret", c.in, err)
		}
	}
}

func TestSplitTargets(t *testing.T) {
	got := SplitTargets(` http://a:9400/metrics, prom+http://p:9090?selector={namespace="llm",app="dcgm,x"},,http://b/metrics `)
	want := []string{"http://a:9400/metrics", `prom+http://p:9090?selector={namespace="llm",app="dcgm,x"}`, "http://b/metrics"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// FuzzParseProm: any input gives a query or an error, never a panic, and
// an accepted one has a selector in braces, a label to group by and a
// Prometheus URL without the query.
func FuzzParseProm(f *testing.F) {
	f.Add(`prom+http://p:9090?selector={a="b",c=~"d.+"}&by=pod&final_wait=1s`)
	f.Add(`prom+https://p/x?selector={a="\"&"}`)
	f.Add(`prom+http://p?selector=%7B%7D`)
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseProm(s)
		if err != nil {
			return
		}
		if !strings.HasPrefix(q.Selector, "{") || !strings.HasSuffix(q.Selector, "}") || q.By == "" || strings.Contains(q.API, "?") {
			t.Errorf("%q: accepted %+v", s, q)
		}
		_ = SplitTargets(s)
	})
}

func TestDecodeInstant(t *testing.T) {
	v, err := decodeInstant([]byte(`{"status":"success","data":{"resultType":"vector","result":[
		{"metric":{"__name__":"vllm:num_requests_running","instance":"a"},"value":[1700000000.5,"3"]},
		{"metric":{"__name__":"x","instance":"b"},"value":[1700000000.5,"NaN"]}]}}`))
	if err != nil || len(v) != 2 || v[0].value != 3 || v[0].labels["instance"] != "a" || v[0].at != time.UnixMilli(1700000000500) || v[1].value == v[1].value {
		t.Errorf("vector: %+v %v", v, err)
	}
	v, err = decodeInstant([]byte(`{"status":"success","data":{"resultType":"matrix","result":[
		{"metric":{"instance":"a"},"values":[[1700000000,"1"],[1700000001.25,"2"]]},{"metric":{},"values":[]}]}}`))
	if err != nil || len(v) != 1 || v[0].value != 2 || v[0].at != time.UnixMilli(1700000001250) {
		t.Errorf("matrix: %+v %v", v, err)
	}
	_, err = decodeInstant([]byte(`{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected"}`))
	if pe, ok := err.(*promError); !ok || pe.Type != "bad_data" || !strings.Contains(pe.Msg, "parse error") {
		t.Errorf("error answer: %v", err)
	}
	for _, bad := range []string{`<html>`, `{"status":"success","data":{"resultType":"scalar"}}`,
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"x"]}]}}`} {
		if _, err := decodeInstant([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// FuzzDecodeInstant: any answer decodes or fails, never panics.
func FuzzDecodeInstant(f *testing.F) {
	f.Add([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"b"},"value":[1,"2"]}]}}`))
	f.Add([]byte(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"2"]]}]}}`))
	f.Add([]byte(`{"status":"error","errorType":"bad_data","error":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeInstant(b)
	})
}

// TestPromBearerToken: the token goes in the Authorization header of every
// query and nowhere else, not even in an error.
func TestPromBearerToken(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Authorization"))
		if strings.Contains(r.URL.RawQuery, "s3cret") {
			t.Errorf("token in the query: %s", r.URL.RawQuery)
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("overloaded"))
	}))
	defer srv.Close()
	q, err := ParseProm(PromPrefix + srv.URL + "?selector={}")
	if err != nil {
		t.Fatal(err)
	}
	p := newPromSource(Target{Role: "server", APIKey: "s3cret"}, q)
	defer p.close()
	_, err = p.points(context.Background(), time.Now())
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "503") {
		t.Errorf("error %v: want the status, never the token", err)
	}
	if len(got) != 1 || got[0] != "Bearer s3cret" {
		t.Errorf("Authorization headers %q", got)
	}
}
