package main

import (
	"reflect"
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

// run starts the plugin with configuration config (none if nil), answers one
// request with the response headers upstream, and returns the headers the
// filter leaves in the response.
func run(t *testing.T, config []byte, upstream [][2]string) [][2]string {
	t.Helper()
	opt := proxytest.NewEmulatorOption().WithVMContext(&vmContext{})
	if config != nil {
		opt = opt.WithPluginConfiguration(config)
	}
	host, reset := proxytest.NewHostEmulator(opt)
	defer reset()
	if status := host.StartPlugin(); status != types.OnPluginStartStatusOK {
		t.Fatalf("plugin start: got %v, want OK", status)
	}
	id := host.InitializeHttpContext()
	host.CallOnRequestHeaders(id, nil, false)
	if action := host.CallOnResponseHeaders(id, upstream, false); action != types.ActionContinue {
		t.Fatalf("OnHttpResponseHeaders returned %v, want ActionContinue", action)
	}
	return host.GetCurrentResponseHeaders(id)
}

// What Envoy's direct response carries before the filter sees it.
var upstream = [][2]string{{"content-length", "12"}, {"content-type", "text/plain"}}

func TestAddsAndRemovesHeaders(t *testing.T) {
	// Exercise 04.1's configuration, plus a blank line and spaces to trim.
	const config = `# add one header, remove one
x-lab=config

  -  content-type
`
	got := run(t, []byte(config), upstream)
	want := [][2]string{{"content-length", "12"}, {"x-lab", "config"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("response headers = %q, want %q", got, want)
	}
}

func TestValuesMayContainEquals(t *testing.T) {
	got := run(t, []byte(" link = https://example.com/?a=1&b=2 \n"), nil)
	want := [][2]string{{"link", "https://example.com/?a=1&b=2"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("response headers = %q, want %q", got, want)
	}
}

func TestRemoveThenAddReplaces(t *testing.T) {
	// The add line comes first, yet the header ends up with the new value only.
	got := run(t, []byte("x-lab=new\n-x-lab\n"), [][2]string{{"x-lab", "old"}})
	want := [][2]string{{"x-lab", "new"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("response headers = %q, want %q", got, want)
	}
}

func TestNoConfigurationChangesNothing(t *testing.T) {
	got := run(t, nil, upstream)
	if !reflect.DeepEqual(got, upstream) {
		t.Errorf("response headers = %q, want them unchanged: %q", got, upstream)
	}
}
