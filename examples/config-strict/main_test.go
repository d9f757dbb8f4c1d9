package main

import (
	"strings"
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func start(t *testing.T, config string) (proxytest.HostEmulator, types.OnPluginStartStatus, func()) {
	t.Helper()
	opt := proxytest.NewEmulatorOption().WithVMContext(&vmContext{}).WithPluginConfiguration([]byte(config))
	host, reset := proxytest.NewHostEmulator(opt)
	return host, host.StartPlugin(), reset
}

func TestAddsTheBuildAndTheConfiguredHeaders(t *testing.T) {
	host, status, reset := start(t, "x-version=1\n# a comment\n")
	defer reset()
	if status != types.OnPluginStartStatusOK {
		t.Fatalf("plugin start: got %v", status)
	}
	id := host.InitializeHttpContext()
	host.CallOnResponseHeaders(id, nil, false)
	got := host.GetCurrentResponseHeaders(id)
	want := [][2]string{{"x-build", build}, {"x-version", "1"}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("response headers = %q, want %q", got, want)
	}
}

func TestRefusesALineThatIsNotNameValue(t *testing.T) {
	host, status, reset := start(t, "x-version=4\nthis line is broken\n")
	defer reset()
	if status != types.OnPluginStartStatusFailed {
		t.Fatalf("plugin start: got %v, want failed", status)
	}
	logs := strings.Join(host.GetCriticalLogs(), "\n")
	if !strings.Contains(logs, `invalid config line "this line is broken"`) {
		t.Errorf("critical logs %q do not name the broken line", logs)
	}
}
