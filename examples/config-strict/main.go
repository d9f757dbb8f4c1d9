// config-strict: notebook 06's filter, version 2. One response header per
// name=value line of the plugin configuration (as config-headers), plus two
// changes marked NEW: an x-build header set by the code, and a configuration
// line that is not name=value refuses the whole configuration.
package main

import (
	"strings"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

// NEW: which build of the filter answered. Every response carries it.
const build = "2"

func main() {}

func init() {
	proxywasm.SetVMContext(&vmContext{})
}

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(contextID uint32) types.PluginContext {
	return &pluginContext{}
}

type pluginContext struct {
	types.DefaultPluginContext
	headers [][2]string
}

func (ctx *pluginContext) OnPluginStart(pluginConfigurationSize int) types.OnPluginStartStatus {
	config, err := proxywasm.GetPluginConfiguration()
	if err != nil && err != types.ErrorStatusNotFound {
		proxywasm.LogCriticalf("failed to load config: %v", err)
		return types.OnPluginStartStatusFailed
	}
	for _, line := range strings.Split(string(config), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, found := strings.Cut(line, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !found || name == "" {
			// NEW: refuse the whole configuration instead of skipping the line.
			proxywasm.LogCriticalf("invalid config line %q: want name=value", line)
			return types.OnPluginStartStatusFailed
		}
		ctx.headers = append(ctx.headers, [2]string{name, value})
	}
	proxywasm.LogInfof("build %s started: %d header(s) from the configuration", build, len(ctx.headers))
	return types.OnPluginStartStatusOK
}

func (ctx *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &httpContext{headers: ctx.headers}
}

type httpContext struct {
	types.DefaultHttpContext
	headers [][2]string
}

func (ctx *httpContext) OnHttpResponseHeaders(numHeaders int, endOfStream bool) types.Action {
	// NEW: a header set by the code, not by the configuration.
	if err := proxywasm.AddHttpResponseHeader("x-build", build); err != nil {
		proxywasm.LogCriticalf("failed to add x-build: %v", err)
	}
	for _, h := range ctx.headers {
		if err := proxywasm.AddHttpResponseHeader(h[0], h[1]); err != nil {
			proxywasm.LogCriticalf("failed to add header %s: %v", h[0], err)
		}
	}
	return types.ActionContinue
}
