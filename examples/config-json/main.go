// config-json: exercise 04.2. The plugin configuration is JSON,
// {"headers": {"name": "value", ...}}, added to every response. A bad
// configuration makes OnPluginStart fail, so Envoy refuses it and says why.
package main

import (
	"encoding/json"
	"regexp"
	"sort"

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

// config is the shape of the JSON configuration.
type config struct {
	Headers map[string]string `json:"headers"`
}

// Lowercase letters, digits and '-': a safe subset of HTTP header names.
var validName = regexp.MustCompile(`^[a-z0-9-]+$`)

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
			proxywasm.LogCriticalf("invalid JSON configuration: %v", err)
			return types.OnPluginStartStatusFailed
		}
	}
	// Refuse the whole configuration at start rather than fail on a request:
	// Envoy then rejects it and keeps serving with what it had.
	for name := range cfg.Headers {
		if !validName.MatchString(name) {
			proxywasm.LogCriticalf("invalid header name %q", name)
			return types.OnPluginStartStatusFailed
		}
		ctx.names = append(ctx.names, name)
	}
	sort.Strings(ctx.names)
	ctx.headers = cfg.Headers
	return types.OnPluginStartStatusOK
}

func (ctx *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &httpContext{plugin: ctx}
}

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
