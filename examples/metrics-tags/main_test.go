package main

import (
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func TestOneCounterPerMethod(t *testing.T) {
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().WithVMContext(&vmContext{}))
	defer reset()
	if status := host.StartPlugin(); status != types.OnPluginStartStatusOK {
		t.Fatalf("plugin start: got %v", status)
	}

	for _, method := range []string{"GET", "GET", "POST"} {
		id := host.InitializeHttpContext()
		host.CallOnRequestHeaders(id, [][2]string{{":method", method}, {":path", "/"}}, false)
		host.CompleteHttpContext(id)
	}

	// The emulator knows nothing of stats_tags: it sees the full names.
	for name, want := range map[string]uint64{"lab_requests_method=GET": 2, "lab_requests_method=POST": 1} {
		got, err := host.GetCounterMetric(name)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	if _, err := host.GetCounterMetric("lab_requests_method=DELETE"); err == nil {
		t.Error("lab_requests_method=DELETE exists, but no DELETE request was sent")
	}
}
