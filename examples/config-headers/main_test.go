package main

import (
	"strings"
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func run(t *testing.T, config string) (headers [][2]string, logs []string) {
	t.Helper()
	opt := proxytest.NewEmulatorOption().WithVMContext(&vmContext{}).WithPluginConfiguration([]byte(config))
	host, reset := proxytest.NewHostEmulator(opt)
	defer reset()
	if status := host.StartPlugin(); status != types.OnPluginStartStatusOK {
		t.Fatalf("plugin start: got %v", status)
	}
	id := host.InitializeHttpContext()
	host.CallOnRequestHeaders(id, nil, false)
	host.CallOnResponseHeaders(id, [][2]string{{"content-type", "text/plain"}}, false)
	host.CompleteHttpContext(id)
	return host.GetCurrentResponseHeaders(id), host.GetInfoLogs()
}

func TestAddsTheTutorialsHeaders(t *testing.T) {
	headers, logs := run(t, "header_1=somevalue\nheader_2=secondvalue\n")
	want := [][2]string{{"content-type", "text/plain"}, {"header_1", "somevalue"}, {"header_2", "secondvalue"}}
	if len(headers) != len(want) {
		t.Fatalf("response headers = %q, want %q", headers, want)
	}
	for i := range want {
		if headers[i] != want[i] {
			t.Errorf("header %d = %q, want %q", i, headers[i], want[i])
		}
	}
	joined := strings.Join(logs, "\n")
	for _, line := range []string{"header set: header_1=somevalue", "header set: header_2=secondvalue", "finished"} {
		if !strings.Contains(joined, line) {
			t.Errorf("missing log %q in:\n%s", line, joined)
		}
	}
}

// The lines the seed's Split-based parser got wrong.
func TestParserSkipsCommentsTrimsAndKeepsEquals(t *testing.T) {
	headers, _ := run(t, "# a comment\n\n  spaced = value  \nlink=https://example.com/?a=1&b=2\nnot a pair\n")
	want := [][2]string{{"content-type", "text/plain"}, {"spaced", "value"}, {"link", "https://example.com/?a=1&b=2"}}
	if len(headers) != len(want) {
		t.Fatalf("response headers = %q, want %q", headers, want)
	}
	for i := range want {
		if headers[i] != want[i] {
			t.Errorf("header %d = %q, want %q", i, headers[i], want[i])
		}
	}
}
