// tick-service: a Wasm *service*, not a filter: Envoy starts it at boot (a
// bootstrap extension, singleton: one VM for the whole Envoy), and it runs on a
// timer, with no request in sight. Every tick it counts and logs.
package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

const periodMilliseconds = 100

func main() {}

func init() { proxywasm.SetVMContext(&vmContext{}) }

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(contextID uint32) types.PluginContext {
	return &pluginContext{ticks: proxywasm.DefineCounterMetric("tick_service_ticks")}
}

type pluginContext struct {
	types.DefaultPluginContext
	ticks proxywasm.MetricCounter
	n     int
}

func (ctx *pluginContext) OnPluginStart(pluginConfigurationSize int) types.OnPluginStartStatus {
	if err := proxywasm.SetTickPeriodMilliSeconds(periodMilliseconds); err != nil {
		proxywasm.LogCriticalf("failed to set the tick period: %v", err)
		return types.OnPluginStartStatusFailed
	}
	proxywasm.LogInfof("ticking every %d ms", periodMilliseconds)
	return types.OnPluginStartStatusOK
}

func (ctx *pluginContext) OnTick() {
	ctx.n++
	ctx.ticks.Increment(1)
	if ctx.n <= 3 || ctx.n%50 == 0 {
		proxywasm.LogInfof("tick %d", ctx.n)
	}
}
