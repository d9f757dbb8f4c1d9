// vm-config: the two configurations a Wasm filter gets. The *VM configuration*
// comes once per VM, in OnVMStart (shared by every plugin in that VM); the
// *plugin configuration* comes per filter, in OnPluginStart. Each response
// carries both (x-vm-config, x-plugin-config).
package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func main() {}

func init() { proxywasm.SetVMContext(&vmContext{}) }

type vmContext struct {
	types.DefaultVMContext
	config string
}

func (ctx *vmContext) OnVMStart(vmConfigurationSize int) types.OnVMStartStatus {
	data, err := proxywasm.GetVMConfiguration()
	if err != nil && err != types.ErrorStatusNotFound {
		proxywasm.LogCriticalf("failed to read the VM configuration: %v", err)
		return types.OnVMStartStatusFailed
	}
	ctx.config = string(data)
	proxywasm.LogInfof("VM configuration: %q", ctx.config)
	return types.OnVMStartStatusOK
}

func (ctx *vmContext) NewPluginContext(contextID uint32) types.PluginContext {
	return &pluginContext{vm: ctx}
}

type pluginContext struct {
	types.DefaultPluginContext
	vm     *vmContext
	config string
}

func (ctx *pluginContext) OnPluginStart(pluginConfigurationSize int) types.OnPluginStartStatus {
	data, err := proxywasm.GetPluginConfiguration()
	if err != nil && err != types.ErrorStatusNotFound {
		proxywasm.LogCriticalf("failed to read the plugin configuration: %v", err)
		return types.OnPluginStartStatusFailed
	}
	ctx.config = string(data)
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
	for _, h := range [][2]string{{"x-vm-config", ctx.plugin.vm.config}, {"x-plugin-config", ctx.plugin.config}} {
		if err := proxywasm.AddHttpResponseHeader(h[0], h[1]); err != nil {
			proxywasm.LogErrorf("failed to add %s: %v", h[0], err)
		}
	}
	return types.ActionContinue
}
