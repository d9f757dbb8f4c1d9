// dispatch-call: before a request goes on, the filter asks another service.
// It pauses the request, calls the cluster named in its configuration
// (DispatchHttpCall), and when the answer comes, adds the answer's status to
// the request and to the response (x-auth-status), then resumes the request.
// A call that fails makes the filter answer 503 itself.
package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func main() {}

func init() { proxywasm.SetVMContext(&vmContext{}) }

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(contextID uint32) types.PluginContext {
	return &pluginContext{}
}

type pluginContext struct {
	types.DefaultPluginContext
	cluster string
}

// The configuration is the name of the cluster to call, e.g. "auth".
func (ctx *pluginContext) OnPluginStart(pluginConfigurationSize int) types.OnPluginStartStatus {
	data, err := proxywasm.GetPluginConfiguration()
	if err != nil || len(data) == 0 {
		proxywasm.LogCritical("the configuration must name the cluster to call")
		return types.OnPluginStartStatusFailed
	}
	ctx.cluster = string(data)
	return types.OnPluginStartStatusOK
}

func (ctx *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &httpContext{cluster: ctx.cluster}
}

type httpContext struct {
	types.DefaultHttpContext
	cluster string
	status  string
}

func (ctx *httpContext) OnHttpRequestHeaders(numHeaders int, endOfStream bool) types.Action {
	headers := [][2]string{{":method", "GET"}, {":path", "/status/200"}, {":authority", ctx.cluster}}
	if _, err := proxywasm.DispatchHttpCall(ctx.cluster, headers, nil, nil, 5000, ctx.answered); err != nil {
		proxywasm.LogCriticalf("failed to call %s: %v", ctx.cluster, err)
		_ = proxywasm.SendHttpResponse(503, nil, []byte("the auth call failed\n"), -1)
		return types.ActionPause
	}
	return types.ActionPause // resumed in answered
}

func (ctx *httpContext) answered(numHeaders, bodySize, numTrailers int) {
	headers, err := proxywasm.GetHttpCallResponseHeaders()
	if err != nil {
		proxywasm.LogCriticalf("failed to read the call's answer: %v", err)
		_ = proxywasm.SendHttpResponse(503, nil, []byte("the auth call failed\n"), -1)
		return
	}
	for _, h := range headers {
		if h[0] == ":status" {
			ctx.status = h[1]
		}
	}
	proxywasm.LogInfof("%s answered %s", ctx.cluster, ctx.status)
	if err := proxywasm.AddHttpRequestHeader("x-auth-status", ctx.status); err != nil {
		proxywasm.LogErrorf("failed to add x-auth-status: %v", err)
	}
	if err := proxywasm.ResumeHttpRequest(); err != nil {
		proxywasm.LogErrorf("failed to resume the request: %v", err)
	}
}

func (ctx *httpContext) OnHttpResponseHeaders(numHeaders int, endOfStream bool) types.Action {
	if err := proxywasm.AddHttpResponseHeader("x-auth-status", ctx.status); err != nil {
		proxywasm.LogErrorf("failed to add x-auth-status: %v", err)
	}
	return types.ActionContinue
}
