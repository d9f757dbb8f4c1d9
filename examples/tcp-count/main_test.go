package main

import (
	"strings"
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func TestBytesAreCountedBothWays(t *testing.T) {
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().WithVMContext(&vmContext{}))
	defer reset()
	if status := host.StartPlugin(); status != types.OnPluginStartStatusOK {
		t.Fatalf("plugin start: got %v", status)
	}
	id, _ := host.InitializeConnection()
	host.CallOnDownstreamData(id, []byte("GET / HTTP/1.1\r\n\r\n"))
	host.CallOnUpstreamData(id, []byte("HTTP/1.1 200 OK\r\n\r\n"))
	host.CompleteConnection(id)
	up, _ := host.GetCounterMetric("tcp_count_bytes_up")
	down, _ := host.GetCounterMetric("tcp_count_bytes_down")
	if up != 18 || down != 19 {
		t.Fatalf("counted %d up, %d down; want 18, 19", up, down)
	}
	if logs := strings.Join(host.GetInfoLogs(), "\n"); !strings.Contains(logs, "18 bytes up, 19 bytes down") {
		t.Errorf("logs: %s", logs)
	}
}
