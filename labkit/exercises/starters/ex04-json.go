// ex04-json: exercise 04.2. The JSON filter from section 4, which must
// refuse a configuration with an invalid header name.
package main

import (
	"encoding/json"
	"sort"

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

// config is the shape of the JSON. The tag `json:"headers"` maps the JSON
// key "headers" to the Go field Headers.
type config struct {
	Headers map[string]string `json:"headers"`
}

type pluginContext struct {
	types.DefaultPluginContext
	names   []string // sorted, so every response lists the headers in the same order
	headers map[string]string
}

func (ctx *pluginContext) OnPluginStart(pluginConfigurationSize int) types.OnPluginStartStatus {
	data, err := proxywasm.GetPluginConfiguration()
	if err != nil && err != types.ErrorStatusNotFound {
		proxywasm.LogCriticalf("failed to read the plugin configuration: %v", err)
		return types.OnPluginStartStatusFailed
	}
	var cfg config
	if len(data) > 0 {
		if err := json.Unmarshal(data, &cfg); err != nil {
			// Refuse the configuration: say why, and report failure to Envoy.
			proxywasm.LogCriticalf("invalid JSON configuration: %v", err)
			return types.OnPluginStartStatusFailed
		}
	}
	for name := range cfg.Headers {
		// TODO (exercise 04.2): refuse a name that is not made of lowercase
		// letters, digits and "-".
		ctx.names = append(ctx.names, name)
	}
	sort.Strings(ctx.names)
	ctx.headers = cfg.Headers
	proxywasm.LogInfof("plugin started: %d header(s) from the JSON configuration", len(ctx.names))
	return types.OnPluginStartStatusOK
}

func (ctx *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &httpContext{plugin: ctx}
}

// httpContext keeps a pointer to its plugin context: a way to share the
// configuration that avoids copying it into every request.
type httpContext struct {
	types.DefaultHttpContext
	plugin *pluginContext
}

func (ctx *httpContext) OnHttpResponseHeaders(numHeaders int, endOfStream bool) types.Action {
	for _, name := range ctx.plugin.names {
		if err := proxywasm.AddHttpResponseHeader(name, ctx.plugin.headers[name]); err != nil {
			proxywasm.LogCriticalf("failed to add header %s: %v", name, err)
		}
	}
	return types.ActionContinue
}
