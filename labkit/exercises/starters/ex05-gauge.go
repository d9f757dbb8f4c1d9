// ex05-gauge: exercise 05.1. A counter of the requests that carry an x-debug
// header, and a gauge of the requests in flight.
package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func main() {}

func init() {
	proxywasm.SetVMContext(&vmContext{})
}

type vmContext struct {
	types.DefaultVMContext
}

func (*vmContext) NewPluginContext(contextID uint32) types.PluginContext {
	// TODO (exercise 05.1): define the counter debug_requests and the gauge
	// inflight_requests here, once per plugin, and keep them in the context.
	return &pluginContext{}
}

type pluginContext struct {
	types.DefaultPluginContext
	// TODO: fields for the two metrics
}

func (ctx *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &httpContext{plugin: ctx}
}

type httpContext struct {
	types.DefaultHttpContext
	plugin *pluginContext
}

func (ctx *httpContext) OnHttpRequestHeaders(numHeaders int, endOfStream bool) types.Action {
	// TODO: a request has started. Is it a debug request (x-debug header)?
	return types.ActionContinue
}

func (ctx *httpContext) OnHttpStreamDone() {
	// TODO: the request is over
}
