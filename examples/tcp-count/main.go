// tcp-count: a network (TCP) filter. It counts the bytes each connection sends
// in both directions, logs them when the connection closes, and exports the
// totals as counters. It sits in front of Envoy's tcp_proxy, which connects
// every client to the upstream.
package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func main() {}

func init() { proxywasm.SetVMContext(&vmContext{}) }

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(contextID uint32) types.PluginContext {
	return &pluginContext{
		up:   proxywasm.DefineCounterMetric("tcp_count_bytes_up"),
		down: proxywasm.DefineCounterMetric("tcp_count_bytes_down"),
	}
}

type pluginContext struct {
	types.DefaultPluginContext
	up, down proxywasm.MetricCounter
}

func (ctx *pluginContext) NewTcpContext(contextID uint32) types.TcpContext {
	return &tcpContext{plugin: ctx, id: contextID}
}

type tcpContext struct {
	types.DefaultTcpContext
	plugin   *pluginContext
	id       uint32
	up, down int
}

func (ctx *tcpContext) OnNewConnection() types.Action {
	proxywasm.LogInfof("connection %d opened", ctx.id)
	return types.ActionContinue
}

// Data from the client, on its way to the upstream.
func (ctx *tcpContext) OnDownstreamData(dataSize int, endOfStream bool) types.Action {
	ctx.up += dataSize
	if dataSize > 0 { // Envoy refuses to increment by 0, and the SDK panics on that
		ctx.plugin.up.Increment(uint64(dataSize))
	}
	return types.ActionContinue
}

// Data from the upstream, on its way back to the client.
func (ctx *tcpContext) OnUpstreamData(dataSize int, endOfStream bool) types.Action {
	ctx.down += dataSize
	if dataSize > 0 {
		ctx.plugin.down.Increment(uint64(dataSize))
	}
	return types.ActionContinue
}

func (ctx *tcpContext) OnStreamDone() {
	proxywasm.LogInfof("connection %d closed: %d bytes up, %d bytes down", ctx.id, ctx.up, ctx.down)
}
