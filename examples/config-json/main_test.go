package main

import (
	"strings"
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func start(t *testing.T, configuration string) (proxytest.HostEmulator, types.OnPluginStartStatus, func()) {
	t.Helper()
	opt := proxytest.NewEmulatorOption().WithVMContext(&vmContext{}).WithPluginConfiguration([]byte(configuration))
	host, reset := proxytest.NewHostEmulator(opt)
	return host, host.StartPlugin(), reset
}

func TestAddsConfiguredHeaders(t *testing.T) {
	host, status, reset := start(t, `{"headers": {"x-team": "wasm-lab", "x-stage": "exercise"}}`)
	defer reset()
	if status != types.OnPluginStartStatusOK {
		t.Fatalf("plugin start: got %v, want OK", status)
	}
	id := host.InitializeHttpContext()
	host.CallOnResponseHeaders(id, nil, false)
	want := [][2]string{{"x-stage", "exercise"}, {"x-team", "wasm-lab"}}
	got := host.GetCurrentResponseHeaders(id)
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("response headers = %q, want %q", got, want)
	}
}

func TestRefusesBadConfiguration(t *testing.T) {
	for _, tc := range []struct{ configuration, log string }{
		{`{"headers": {"Not A Header": "x"}}`, `invalid header name "Not A Header"`},
		{`{"headers": {"x-ok": "1", "under_score": "2"}}`, `invalid header name "under_score"`},
		{`{"headers": `, `invalid JSON configuration`},
	} {
		t.Run(tc.configuration, func(t *testing.T) {
			host, status, reset := start(t, tc.configuration)
			defer reset()
			if status != types.OnPluginStartStatusFailed {
				t.Fatalf("plugin start: got %v, want Failed", status)
			}
			logs := strings.Join(host.GetCriticalLogs(), "\n")
			if !strings.Contains(logs, tc.log) {
				t.Errorf("critical logs %q do not contain %q", logs, tc.log)
			}
		})
	}
}
