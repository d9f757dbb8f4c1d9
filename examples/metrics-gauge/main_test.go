package main

import (
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func TestCountsDebugRequestsAndTracksInflight(t *testing.T) {
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().WithVMContext(&vmContext{}))
	defer reset()
	if status := host.StartPlugin(); status != types.OnPluginStartStatusOK {
		t.Fatalf("plugin start: got %v", status)
	}

	gauge := func() int64 {
		t.Helper()
		v, err := host.GetGaugeMetric("inflight_requests")
		if err != nil {
			t.Fatal(err)
		}
		return int64(v) // the emulator stores gauges as uint64: -1 wraps around
	}

	// Two requests start; only the first has x-debug.
	a, b := host.InitializeHttpContext(), host.InitializeHttpContext()
	host.CallOnRequestHeaders(a, [][2]string{{"x-debug", "1"}}, false)
	host.CallOnRequestHeaders(b, [][2]string{{"accept", "*/*"}}, false)
	if got := gauge(); got != 2 {
		t.Errorf("inflight_requests with two open requests = %d, want 2", got)
	}
	host.CompleteHttpContext(a)
	if got := gauge(); got != 1 {
		t.Errorf("inflight_requests after one finished = %d, want 1", got)
	}
	host.CompleteHttpContext(b)
	if got := gauge(); got != 0 {
		t.Errorf("inflight_requests after both finished = %d, want 0", got)
	}

	debug, err := host.GetCounterMetric("debug_requests")
	if err != nil {
		t.Fatal(err)
	}
	if debug != 1 {
		t.Errorf("debug_requests = %d, want 1", debug)
	}
}
