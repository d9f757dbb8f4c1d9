// json-body: a filter with a dependency of its own (github.com/tidwall/gjson).
// It reads a JSON request body and refuses it (400) unless it has every field
// the plugin configuration lists: {"required": ["name", "email"]}. Requests
// that pass go on to the upstream. It logs its configuration over several lines.
package main

import (
	"strings"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
	"github.com/tidwall/gjson"
)

func main() {}

func init() { proxywasm.SetVMContext(&vmContext{}) }

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(contextID uint32) types.PluginContext {
	return &pluginContext{}
}

type pluginContext struct {
	types.DefaultPluginContext
	required []string
}

func (ctx *pluginContext) OnPluginStart(pluginConfigurationSize int) types.OnPluginStartStatus {
	data, err := proxywasm.GetPluginConfiguration()
	if err != nil && err != types.ErrorStatusNotFound {
		proxywasm.LogCriticalf("failed to read the plugin configuration: %v", err)
		return types.OnPluginStartStatusFailed
	}
	if !gjson.ValidBytes(data) {
		proxywasm.LogCriticalf("the configuration is not JSON: %q", data)
		return types.OnPluginStartStatusFailed
	}
	for _, field := range gjson.GetBytes(data, "required").Array() {
		ctx.required = append(ctx.required, field.String())
	}
	// One message over several lines: Envoy's log keeps it whole.
	proxywasm.LogInfof("json-body configuration:\n  required: %s\n  fields: %d",
		strings.Join(ctx.required, ", "), len(ctx.required))
	return types.OnPluginStartStatusOK
}

func (ctx *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &httpContext{required: ctx.required}
}

type httpContext struct {
	types.DefaultHttpContext
	required []string
}

// Wait for the whole body: Envoy hands it over in pieces, endOfStream marks the last.
func (ctx *httpContext) OnHttpRequestBody(bodySize int, endOfStream bool) types.Action {
	if !endOfStream {
		return types.ActionPause
	}
	body, err := proxywasm.GetHttpRequestBody(0, bodySize)
	if err != nil {
		proxywasm.LogErrorf("failed to read the request body: %v", err)
		return types.ActionContinue
	}
	if !gjson.ValidBytes(body) {
		return ctx.refuse("the body is not JSON")
	}
	for _, field := range ctx.required {
		if !gjson.GetBytes(body, field).Exists() {
			return ctx.refuse("missing field: " + field)
		}
	}
	return types.ActionContinue
}

func (ctx *httpContext) refuse(why string) types.Action {
	proxywasm.LogInfof("refused: %s", why)
	if err := proxywasm.SendHttpResponse(400, [][2]string{{"content-type", "text/plain"}},
		[]byte(why+"\n"), -1); err != nil {
		proxywasm.LogErrorf("failed to send the 400: %v", err)
	}
	return types.ActionPause
}
