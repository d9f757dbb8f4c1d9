// ex04-lines: exercise 04.1. Section 1's filter: it adds one response header
// per name=value line. Make "-name" lines remove a header (see the task above).
package main

import (
	"strings"

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
	return &pluginContext{}
}

type pluginContext struct {
	types.DefaultPluginContext
	// name/value pairs in configuration order.
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
		// TODO (exercise 04.1): a line "-name" names a response header to
		// remove. Handle it here, before the line is split at "=": for now it
		// has no "=", so it is skipped with a warning below.
		name, value, found := strings.Cut(line, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !found || name == "" {
			proxywasm.LogWarnf("ignoring config line %q: want name=value", line)
			continue
		}
		ctx.headers = append(ctx.headers, [2]string{name, value})
	}
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
	// TODO (exercise 04.1): remove the headers named on "-name" lines, with
	// proxywasm.RemoveHttpResponseHeader(name).
	for _, h := range ctx.headers {
		if err := proxywasm.AddHttpResponseHeader(h[0], h[1]); err != nil {
			proxywasm.LogCriticalf("failed to add header %s: %v", h[0], err)
		}
	}
	return types.ActionContinue
}
