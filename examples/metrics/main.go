// metrics: notebook 05's filter. Four metrics, one of each kind Envoy shows:
//
//	hello_header_counter   counter    requests that carry a `hello` header
//	active_requests        gauge      requests in flight (up at start, down when done)
//	request_header_count   histogram  how many headers each request has
//	hello_header_value=<v> counter    requests by the hello header's value; with the stats
//	                                  tag in envoy.yaml, Prometheus shows hello_header{value="<v>"}
package main

import (
	"regexp"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

// Upstream Go builds a WASI reactor: main stays empty, init registers the VM context.
func main() {}

func init() {
	proxywasm.SetVMContext(&vmContext{})
}

type vmContext struct{ types.DefaultVMContext }

// Metrics are defined once per plugin: DefineXMetric is a call into Envoy,
// and the handles it returns are shared by every request.
func (*vmContext) NewPluginContext(contextID uint32) types.PluginContext {
	return &pluginContext{
		helloHeaderCounter: proxywasm.DefineCounterMetric("hello_header_counter"),
		activeRequests:     proxywasm.DefineGaugeMetric("active_requests"),
		requestHeaderCount: proxywasm.DefineHistogramMetric("request_header_count"),
		helloByValue:       map[string]proxywasm.MetricCounter{},
	}
}

type pluginContext struct {
	types.DefaultPluginContext
	helloHeaderCounter proxywasm.MetricCounter
	activeRequests     proxywasm.MetricGauge
	requestHeaderCount proxywasm.MetricHistogram
	helloByValue       map[string]proxywasm.MetricCounter // tagged counters, defined on first use
}

// Every distinct value becomes a metric Envoy keeps forever, so only short,
// plain values get their own series; anything else is counted as "other".
var plainValue = regexp.MustCompile(`^[a-z0-9]{1,16}$`)

func (ctx *pluginContext) helloValueCounter(value string) proxywasm.MetricCounter {
	if !plainValue.MatchString(value) {
		value = "other"
	}
	c, ok := ctx.helloByValue[value]
	if !ok {
		c = proxywasm.DefineCounterMetric("hello_header_value=" + value)
		ctx.helloByValue[value] = c
	}
	return c
}

func (ctx *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &httpContext{plugin: ctx}
}

type httpContext struct {
	types.DefaultHttpContext
	plugin *pluginContext
}

func (ctx *httpContext) OnHttpRequestHeaders(numHeaders int, endOfStream bool) types.Action {
	p := ctx.plugin
	p.activeRequests.Add(1)
	// Pseudo-headers (:method, :path, ...) count too.
	p.requestHeaderCount.Record(uint64(numHeaders))

	value, err := proxywasm.GetHttpRequestHeader("hello")
	if err != nil {
		// No hello header (NotFound): nothing more to count.
		return types.ActionContinue
	}
	p.helloHeaderCounter.Increment(1)
	proxywasm.LogInfo("hello_header_counter incremented")
	p.helloValueCounter(value).Increment(1)
	return types.ActionContinue
}

// OnHttpStreamDone runs once per request however it ended: the gauge's way down.
func (ctx *httpContext) OnHttpStreamDone() {
	ctx.plugin.activeRequests.Add(-1)
}
