package main

import (
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func TestTheBodyIsRewrittenOnceComplete(t *testing.T) {
	opt := proxytest.NewEmulatorOption().WithVMContext(&vmContext{}).
		WithPluginConfiguration([]byte(`{"from": "world", "to": "WASM"}`))
	host, reset := proxytest.NewHostEmulator(opt)
	defer reset()
	if status := host.StartPlugin(); status != types.OnPluginStartStatusOK {
		t.Fatalf("plugin start: got %v", status)
	}
	id := host.InitializeHttpContext()
	host.CallOnRequestHeaders(id, [][2]string{{"content-length", "18"}}, false)
	if got := host.GetCurrentRequestHeaders(id); len(got) != 0 {
		t.Fatalf("content-length was kept: %q", got)
	}
	if action := host.CallOnRequestBody(id, []byte("hello "), false); action != types.ActionPause {
		t.Fatalf("a partial body: got %v, want Pause", action)
	}
	if action := host.CallOnRequestBody(id, []byte("world, world"), true); action != types.ActionContinue {
		t.Fatalf("the last piece: got %v, want Continue", action)
	}
	if got := string(host.GetCurrentRequestBody(id)); got != "hello WASM, WASM" {
		t.Fatalf("body = %q", got)
	}
}

func TestABadConfigurationIsRefused(t *testing.T) {
	opt := proxytest.NewEmulatorOption().WithVMContext(&vmContext{}).WithPluginConfiguration([]byte(`{}`))
	host, reset := proxytest.NewHostEmulator(opt)
	defer reset()
	if status := host.StartPlugin(); status != types.OnPluginStartStatusFailed {
		t.Fatalf("plugin start: got %v, want failed", status)
	}
}
