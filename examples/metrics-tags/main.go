// metrics-tags: exercise 05.2. One counter per HTTP method, named
// lab_requests_method=<METHOD>; Envoy's stats_tags turn that suffix into a
// Prometheus label: lab_requests{method="GET"}.
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
	return &pluginContext{counters: map[string]proxywasm.MetricCounter{}}
}

// pluginContext caches one counter per method: defining a metric calls into
// Envoy, looking one up in a map does not.
type pluginContext struct {
	types.DefaultPluginContext
	counters map[string]proxywasm.MetricCounter
}

// counter returns the counter for method, defining it the first time.
// (Defining the same name twice would return the same metric anyway.)
func (ctx *pluginContext) counter(method string) proxywasm.MetricCounter {
	c, ok := ctx.counters[method]
	if !ok {
		c = proxywasm.DefineCounterMetric("lab_requests_method=" + method)
		ctx.counters[method] = c
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
	// HTTP/1 and HTTP/2 requests alike carry the method as the :method pseudo-header.
	method, err := proxywasm.GetHttpRequestHeader(":method")
	if err != nil {
		proxywasm.LogWarnf("no :method header: %v", err)
		return types.ActionContinue
	}
	ctx.plugin.counter(method).Increment(1)
	return types.ActionContinue
}
