package main

import (
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func TestAddsResponseHeader(t *testing.T) {
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().WithVMContext(&vmContext{}))
	defer reset()
	if status := host.StartPlugin(); status != types.OnPluginStartStatusOK {
		t.Fatalf("plugin start: got %v", status)
	}

	id := host.InitializeHttpContext()
	host.CallOnRequestHeaders(id, nil, false)
	host.CallOnResponseHeaders(id, [][2]string{{"content-type", "text/plain"}}, false)

	for _, h := range host.GetCurrentResponseHeaders(id) {
		if h[0] == "my-new-header" {
			if h[1] != "some-value-here" {
				t.Fatalf("my-new-header = %q, want %q", h[1], "some-value-here")
			}
			return
		}
	}
	t.Fatalf("my-new-header missing from %v", host.GetCurrentResponseHeaders(id))
}
