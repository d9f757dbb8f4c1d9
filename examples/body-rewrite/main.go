// body-rewrite: changes the request body on its way to the upstream. Every
// occurrence of the configured word is replaced ({"from": "world", "to":
// "WASM"}); the upstream (httpbin's /anything echoes what it got) shows the
// new body. The body's length changes, so the filter drops content-length from
// the request headers first: Envoy then sends the body chunked.
package main

import (
	"bytes"
	"encoding/json"

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
	from, to []byte
}

func (ctx *pluginContext) OnPluginStart(pluginConfigurationSize int) types.OnPluginStartStatus {
	data, err := proxywasm.GetPluginConfiguration()
	if err != nil {
		proxywasm.LogCriticalf("failed to read the plugin configuration: %v", err)
		return types.OnPluginStartStatusFailed
	}
	var cfg struct{ From, To string }
	if err := json.Unmarshal(data, &cfg); err != nil || cfg.From == "" {
		proxywasm.LogCriticalf("want {\"from\": ..., \"to\": ...}, got %q", data)
		return types.OnPluginStartStatusFailed
	}
	ctx.from, ctx.to = []byte(cfg.From), []byte(cfg.To)
	return types.OnPluginStartStatusOK
}

func (ctx *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &httpContext{plugin: ctx}
}

type httpContext struct {
	types.DefaultHttpContext
	plugin *pluginContext
}

// A content-length that no longer matches would make the upstream wait for bytes
// that never come (or cut the body short).
func (ctx *httpContext) OnHttpRequestHeaders(numHeaders int, endOfStream bool) types.Action {
	if !endOfStream {
		if err := proxywasm.RemoveHttpRequestHeader("content-length"); err != nil {
			proxywasm.LogErrorf("failed to remove content-length: %v", err)
		}
	}
	return types.ActionContinue
}

func (ctx *httpContext) OnHttpRequestBody(bodySize int, endOfStream bool) types.Action {
	if !endOfStream {
		return types.ActionPause // buffer until the whole body has arrived
	}
	body, err := proxywasm.GetHttpRequestBody(0, bodySize)
	if err != nil {
		proxywasm.LogErrorf("failed to read the request body: %v", err)
		return types.ActionContinue
	}
	rewritten := bytes.ReplaceAll(body, ctx.plugin.from, ctx.plugin.to)
	if err := proxywasm.ReplaceHttpRequestBody(rewritten); err != nil {
		proxywasm.LogErrorf("failed to replace the request body: %v", err)
	}
	return types.ActionContinue
}
