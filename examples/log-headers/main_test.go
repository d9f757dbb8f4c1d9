package main

import (
	"strings"
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

// The SDK's host emulator runs the filter natively: `go test` needs no Envoy.
func TestLogsEachPhase(t *testing.T) {
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().WithVMContext(&vmContext{}))
	defer reset()
	if status := host.StartPlugin(); status != types.OnPluginStartStatusOK {
		t.Fatalf("plugin start: got %v", status)
	}

	id := host.InitializeHttpContext()
	if action := host.CallOnRequestHeaders(id, nil, false); action != types.ActionContinue {
		t.Errorf("request headers: got action %v, want Continue", action)
	}
	host.CallOnResponseHeaders(id, nil, false)
	host.CompleteHttpContext(id)

	logs := strings.Join(host.GetInfoLogs(), "\n")
	for _, want := range []string{"OnHttpRequestHeaders", "OnHttpResponseHeaders", "finished"} {
		if !strings.Contains(logs, want) {
			t.Errorf("missing log %q in:\n%s", want, logs)
		}
	}
}
