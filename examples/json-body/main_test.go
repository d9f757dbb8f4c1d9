package main

import (
	"strings"
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func send(t *testing.T, body string) (*proxytest.LocalHttpResponse, types.Action) {
	t.Helper()
	opt := proxytest.NewEmulatorOption().WithVMContext(&vmContext{}).
		WithPluginConfiguration([]byte(`{"required": ["name", "email"]}`))
	host, reset := proxytest.NewHostEmulator(opt)
	defer reset()
	if status := host.StartPlugin(); status != types.OnPluginStartStatusOK {
		t.Fatalf("plugin start: got %v", status)
	}
	if logs := strings.Join(host.GetInfoLogs(), "\n"); !strings.Contains(logs, "required: name, email") {
		t.Errorf("the configuration was not logged: %q", logs)
	}
	id := host.InitializeHttpContext()
	action := host.CallOnRequestBody(id, []byte(body), true)
	return host.GetSentLocalResponse(id), action
}

func TestACompleteBodyPasses(t *testing.T) {
	if refused, action := send(t, `{"name": "ada", "email": "ada@example.com"}`); refused != nil || action != types.ActionContinue {
		t.Fatalf("got %+v, %v; want no local response and Continue", refused, action)
	}
}

func TestAMissingFieldIsRefused(t *testing.T) {
	refused, _ := send(t, `{"name": "ada"}`)
	if refused == nil || refused.StatusCode != 400 || string(refused.Data) != "missing field: email\n" {
		t.Fatalf("got %+v, want 400 missing field: email", refused)
	}
}

func TestNotJSONIsRefused(t *testing.T) {
	if refused, _ := send(t, `name=ada`); refused == nil || refused.StatusCode != 400 {
		t.Fatalf("got %+v, want a 400", refused)
	}
}
