package main

import (
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func TestItTicks(t *testing.T) {
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().WithVMContext(&vmContext{}))
	defer reset()
	if status := host.StartPlugin(); status != types.OnPluginStartStatusOK {
		t.Fatalf("plugin start: got %v", status)
	}
	if host.GetTickPeriod() != periodMilliseconds {
		t.Fatalf("tick period = %d", host.GetTickPeriod())
	}
	for i := 0; i < 3; i++ {
		host.Tick()
	}
	if n, _ := host.GetCounterMetric("tick_service_ticks"); n != 3 {
		t.Fatalf("ticks counted: %d, want 3", n)
	}
}
