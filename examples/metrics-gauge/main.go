// metrics-gauge: exercise 05.1. A counter of requests that carry an x-debug
// header, and a gauge of requests in flight.
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

// Define the metrics once per plugin, not once per request: a metric is a
// host-side object, and DefineXMetric is a call into Envoy.
func (*vmContext) NewPluginContext(contextID uint32) types.PluginContext {
	return &pluginContext{
		debugRequests: proxywasm.DefineCounterMetric("debug_requests"),
		inflight:      proxywasm.DefineGaugeMetric("inflight_requests"),
	}
}

type pluginContext struct {
	types.DefaultPluginContext
	debugRequests proxywasm.MetricCounter
	inflight      proxywasm.MetricGauge
}

// Each request gets the plugin's metrics (they are small handles, cheap to copy).
func (ctx *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &httpContext{debugRequests: ctx.debugRequests, inflight: ctx.inflight}
}

type httpContext struct {
	types.DefaultHttpContext
	debugRequests proxywasm.MetricCounter
	inflight      proxywasm.MetricGauge
}

func (ctx *httpContext) OnHttpRequestHeaders(numHeaders int, endOfStream bool) types.Action {
	ctx.inflight.Add(1)
	// Only the header's presence matters; a missing header is an error (NotFound).
	if _, err := proxywasm.GetHttpRequestHeader("x-debug"); err == nil {
		ctx.debugRequests.Increment(1)
	}
	return types.ActionContinue
}

// OnHttpStreamDone runs once per request, however it ended (answered, reset,
// refused): the one place where the gauge is sure to come back down.
func (ctx *httpContext) OnHttpStreamDone() {
	ctx.inflight.Add(-1)
}
