// Test filter: one module, two plugins told apart by their root_id. Each adds
// x-root-<root id>; both count requests in a variable of the VM, so when the
// two filters share a VM (the same vm_id) the count goes up by two per request.
package main

import (
	"strconv"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

// Lives in the VM: shared by every plugin context the VM has.
var requests int

func main() {}

func init() { proxywasm.SetVMContext(&vmContext{}) }

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(contextID uint32) types.PluginContext { return &pluginContext{} }

type pluginContext struct {
	types.DefaultPluginContext
	root string
}

func (ctx *pluginContext) OnPluginStart(pluginConfigurationSize int) types.OnPluginStartStatus {
	root, err := proxywasm.GetProperty([]string{"plugin_root_id"})
	if err != nil {
		proxywasm.LogCriticalf("no plugin_root_id: %v", err)
		return types.OnPluginStartStatusFailed
	}
	ctx.root = string(root)
	return types.OnPluginStartStatusOK
}

func (ctx *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &httpContext{root: ctx.root}
}

type httpContext struct {
	types.DefaultHttpContext
	root string
}

func (ctx *httpContext) OnHttpResponseHeaders(numHeaders int, endOfStream bool) types.Action {
	requests++
	_ = proxywasm.AddHttpResponseHeader("x-root-"+ctx.root, strconv.Itoa(requests))
	return types.ActionContinue
}
