// config-headers: notebook 04's filter. It reads `name=value` lines from the
// plugin configuration and adds each as a response header. It is the seed
// tutorial's filter with its parser fixed: strings.Cut keeps values that
// contain "=", spaces are trimmed, blank lines and "# comments" are skipped.
package main

import (
	"strings"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

// Upstream Go builds a WASI reactor: main stays empty, init registers the VM context.
func main() {}

func init() {
	proxywasm.SetVMContext(&vmContext{})
}

// vmContext is created once per Wasm VM.
type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(contextID uint32) types.PluginContext {
	return &pluginContext{contextID: contextID}
}

// pluginContext is created once per filter configuration: the parsed headers
// live here, shared by every request.
type pluginContext struct {
	types.DefaultPluginContext
	contextID uint32
	// name/value pairs in configuration order (a map would shuffle them).
	additionalHeaders [][2]string
}

// OnPluginStart runs when Envoy loads the configuration: parse it once here,
// not on every request.
func (ctx *pluginContext) OnPluginStart(pluginConfigurationSize int) types.OnPluginStartStatus {
	config, err := proxywasm.GetPluginConfiguration()
	// No configuration is fine (the filter adds nothing); any other error is not.
	if err != nil && err != types.ErrorStatusNotFound {
		proxywasm.LogCriticalf("failed to load config: %v", err)
		return types.OnPluginStartStatusFailed
	}

	for _, line := range strings.Split(string(config), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		// Each line is "name=value". Cut splits at the first "=" only: the seed's
		// strings.Split + len(tokens)==2 silently dropped values containing "=".
		name, value, found := strings.Cut(line, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !found || name == "" {
			proxywasm.LogWarnf("ignoring config line %q: want name=value", line)
			continue
		}
		ctx.additionalHeaders = append(ctx.additionalHeaders, [2]string{name, value})
	}
	return types.OnPluginStartStatusOK
}

// NewHttpContext hands the parsed headers to each request's context.
func (ctx *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &httpHeaders{contextID: contextID, additionalHeaders: ctx.additionalHeaders}
}

// httpHeaders is created for every HTTP request.
type httpHeaders struct {
	types.DefaultHttpContext
	contextID         uint32
	additionalHeaders [][2]string
}

func (ctx *httpHeaders) OnHttpRequestHeaders(numHeaders int, endOfStream bool) types.Action {
	proxywasm.LogInfo("OnHttpRequestHeaders")
	return types.ActionContinue
}

func (ctx *httpHeaders) OnHttpResponseHeaders(numHeaders int, endOfStream bool) types.Action {
	proxywasm.LogInfo("OnHttpResponseHeaders")
	for _, h := range ctx.additionalHeaders {
		// On failure, log and go on: the seed returned ActionPause here, which
		// leaves the request hanging with nothing to resume it.
		if err := proxywasm.AddHttpResponseHeader(h[0], h[1]); err != nil {
			proxywasm.LogCriticalf("failed to add header %s: %v", h[0], err)
			continue
		}
		proxywasm.LogInfof("header set: %s=%s", h[0], h[1])
	}
	return types.ActionContinue
}

func (ctx *httpHeaders) OnHttpStreamDone() {
	proxywasm.LogInfof("%d finished", ctx.contextID)
}
