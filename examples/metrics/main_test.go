package main

import (
	"strings"
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func TestMetrics(t *testing.T) {
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().WithVMContext(&vmContext{}))
	defer reset()
	if status := host.StartPlugin(); status != types.OnPluginStartStatusOK {
		t.Fatalf("plugin start: got %v", status)
	}
	base := [][2]string{{":method", "GET"}, {":path", "/"}, {":authority", "localhost"}}
	with := func(extra ...[2]string) [][2]string { return append(append([][2]string{}, base...), extra...) }

	// One request stays open while the others come and go.
	open := host.InitializeHttpContext()
	host.CallOnRequestHeaders(open, with(), false)
	for _, headers := range [][][2]string{
		with([2]string{"hello", "world"}),
		with([2]string{"hello", "world"}),
		with([2]string{"hello", "Not Plain!"}),
		with([2]string{"hello", "abc"}, [2]string{"accept", "*/*"}), // 5 headers: the histogram's last value
	} {
		id := host.InitializeHttpContext()
		host.CallOnRequestHeaders(id, headers, false)
		host.CompleteHttpContext(id)
	}

	counters := map[string]uint64{
		"hello_header_counter":     4,
		"hello_header_value=world": 2,
		"hello_header_value=abc":   1,
		"hello_header_value=other": 1,
	}
	for name, want := range counters {
		if got, err := host.GetCounterMetric(name); err != nil || got != want {
			t.Errorf("%s = %d (%v), want %d", name, got, err, want)
		}
	}
	if _, err := host.GetCounterMetric("hello_header_value=Not Plain!"); err == nil {
		t.Error("an unplain value got its own counter; want it counted as other")
	}
	if got, _ := host.GetGaugeMetric("active_requests"); got != 1 {
		t.Errorf("active_requests with one request open = %d, want 1", got)
	}
	host.CompleteHttpContext(open)
	if got, _ := host.GetGaugeMetric("active_requests"); got != 0 {
		t.Errorf("active_requests after every request finished = %d, want 0", int64(got))
	}
	// The emulator keeps only a histogram's last recorded value (Envoy keeps the distribution).
	if got, err := host.GetHistogramMetric("request_header_count"); err != nil || got != 5 {
		t.Errorf("request_header_count last value = %d (%v), want 5", got, err)
	}
	if n := strings.Count(strings.Join(host.GetInfoLogs(), "\n"), "hello_header_counter incremented"); n != 4 {
		t.Errorf("logged 'hello_header_counter incremented' %d times, want 4", n)
	}
}
