package main

import (
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func TestBothConfigurationsArrive(t *testing.T) {
	opt := proxytest.NewEmulatorOption().WithVMContext(&vmContext{}).
		WithVMConfiguration([]byte("shared by the VM")).WithPluginConfiguration([]byte("this plugin's"))
	host, reset := proxytest.NewHostEmulator(opt)
	defer reset()
	if status := host.StartVM(); status != types.OnVMStartStatusOK {
		t.Fatalf("VM start: got %v", status)
	}
	if status := host.StartPlugin(); status != types.OnPluginStartStatusOK {
		t.Fatalf("plugin start: got %v", status)
	}
	id := host.InitializeHttpContext()
	host.CallOnResponseHeaders(id, nil, false)
	got := host.GetCurrentResponseHeaders(id)
	want := [][2]string{{"x-vm-config", "shared by the VM"}, {"x-plugin-config", "this plugin's"}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("response headers = %q, want %q", got, want)
	}
}
