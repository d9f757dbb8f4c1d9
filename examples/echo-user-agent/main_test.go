package main

import (
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func responseHeader(host proxytest.HostEmulator, id uint32, name string) (string, bool) {
	for _, h := range host.GetCurrentResponseHeaders(id) {
		if h[0] == name {
			return h[1], true
		}
	}
	return "", false
}

func TestEchoesEachRequestsUserAgent(t *testing.T) {
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().WithVMContext(&vmContext{}))
	defer reset()
	if status := host.StartPlugin(); status != types.OnPluginStartStatusOK {
		t.Fatalf("plugin start: got %v", status)
	}

	// Two requests with different agents: each response echoes its own.
	for _, agent := range []string{"curl/8.5.0", "lab-check/1.0"} {
		id := host.InitializeHttpContext()
		host.CallOnRequestHeaders(id, [][2]string{{"user-agent", agent}}, false)
		host.CallOnResponseHeaders(id, nil, false)
		if got, ok := responseHeader(host, id, "x-seen-user-agent"); !ok || got != agent {
			t.Errorf("x-seen-user-agent = %q (present: %v), want %q", got, ok, agent)
		}
		host.CompleteHttpContext(id)
	}
}
