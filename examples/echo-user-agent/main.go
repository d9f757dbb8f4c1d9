// echo-user-agent: exercise 03.1. The response carries the request's
// User-Agent back as x-seen-user-agent.
package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

// Upstream Go builds a WASI reactor: main stays empty, init registers the VM context.
func main() {}

func init() {
	proxywasm.SetVMContext(&vmContext{})
}

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(contextID uint32) types.PluginContext {
	return &pluginContext{}
}

type pluginContext struct{ types.DefaultPluginContext }

func (*pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &httpContext{}
}

// httpContext lives for one request, so a field carries a value from the
// request callbacks to the response callbacks of that same request.
type httpContext struct {
	types.DefaultHttpContext
	userAgent string
}

func (ctx *httpContext) OnHttpRequestHeaders(numHeaders int, endOfStream bool) types.Action {
	// A request without the header is fine: userAgent stays "".
	ua, err := proxywasm.GetHttpRequestHeader("user-agent")
	if err != nil && err != types.ErrorStatusNotFound {
		proxywasm.LogCriticalf("failed to read user-agent: %v", err)
	}
	ctx.userAgent = ua
	return types.ActionContinue
}

func (ctx *httpContext) OnHttpResponseHeaders(numHeaders int, endOfStream bool) types.Action {
	// The request headers are gone by now: use the value kept in the context.
	if err := proxywasm.AddHttpResponseHeader("x-seen-user-agent", ctx.userAgent); err != nil {
		proxywasm.LogCriticalf("failed to add x-seen-user-agent: %v", err)
	}
	return types.ActionContinue
}
