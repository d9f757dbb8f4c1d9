package main

import (
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func TestTheCallsAnswerIsPassedOn(t *testing.T) {
	opt := proxytest.NewEmulatorOption().WithVMContext(&vmContext{}).WithPluginConfiguration([]byte("auth"))
	host, reset := proxytest.NewHostEmulator(opt)
	defer reset()
	if status := host.StartPlugin(); status != types.OnPluginStartStatusOK {
		t.Fatalf("plugin start: got %v", status)
	}
	id := host.InitializeHttpContext()
	if action := host.CallOnRequestHeaders(id, nil, false); action != types.ActionPause {
		t.Fatalf("got %v, want Pause until the call answers", action)
	}
	calls := host.GetCalloutAttributesFromContext(id)
	if len(calls) != 1 || calls[0].Upstream != "auth" {
		t.Fatalf("calls: %+v", calls)
	}
	host.CallOnHttpCallResponse(calls[0].CalloutID, [][2]string{{":status", "200"}}, nil, nil)
	if got := host.GetCurrentRequestHeaders(id); len(got) != 1 || got[0] != [2]string{"x-auth-status", "200"} {
		t.Fatalf("request headers: %q", got)
	}
	if action := host.GetCurrentHttpStreamAction(id); action != types.ActionContinue {
		t.Fatalf("the request was not resumed: %v", action)
	}
}
