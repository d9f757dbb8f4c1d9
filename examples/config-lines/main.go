// config-lines: exercise 04.1. The plugin configuration is text, one rule per
// line:
//
//	name=value   add the response header "name: value"
//	-name        remove the response header "name"
//
// Blank lines and `# comments` are skipped, names and values are trimmed, and
// a value may itself contain `=`.
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

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(contextID uint32) types.PluginContext {
	return &pluginContext{}
}

// header is one name/value pair; a slice keeps the configuration's order.
type header struct{ name, value string }

// rules is the parsed configuration: the headers to add and the names to remove.
type rules struct {
	add    []header
	remove []string
}

// pluginContext holds the parsed configuration, shared by every request.
type pluginContext struct {
	types.DefaultPluginContext
	rules rules
}

// OnPluginStart runs when Envoy loads (or reloads) the configuration: parse
// it once here rather than on every request.
func (ctx *pluginContext) OnPluginStart(pluginConfigurationSize int) types.OnPluginStartStatus {
	data, err := proxywasm.GetPluginConfiguration()
	// No configuration at all is allowed: the filter then changes nothing.
	if err != nil && err != types.ErrorStatusNotFound {
		proxywasm.LogCriticalf("failed to read the plugin configuration: %v", err)
		return types.OnPluginStartStatusFailed
	}
	ctx.rules = parseLines(string(data))
	return types.OnPluginStartStatusOK
}

// parseLines turns "name=value" and "-name" lines into rules.
func parseLines(text string) rules {
	var r rules
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		// "-name" removes a header. Look for the "-" before splitting at "=":
		// CutPrefix returns the rest of the line and whether the "-" was there.
		if name, found := strings.CutPrefix(line, "-"); found {
			name = strings.TrimSpace(name) // "- name" works too
			if name == "" {
				proxywasm.LogWarnf("ignoring configuration line %q: want -name", line)
				continue
			}
			r.remove = append(r.remove, name)
			continue
		}
		// Cut splits at the first "=" only, so "link=https://x/?a=1" keeps its value.
		name, value, found := strings.Cut(line, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !found || name == "" {
			proxywasm.LogWarnf("ignoring configuration line %q: want name=value or -name", line)
			continue
		}
		r.add = append(r.add, header{name, value})
	}
	return r
}

func (ctx *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &httpContext{rules: ctx.rules}
}

type httpContext struct {
	types.DefaultHttpContext
	rules rules
}

func (ctx *httpContext) OnHttpResponseHeaders(numHeaders int, endOfStream bool) types.Action {
	// Removals first, then additions: "-x" together with "x=new" replaces the
	// header x, whichever order the two lines come in.
	for _, name := range ctx.rules.remove {
		// Removing a header the response does not have is not an error.
		if err := proxywasm.RemoveHttpResponseHeader(name); err != nil {
			proxywasm.LogCriticalf("failed to remove header %s: %v", name, err)
		}
	}
	for _, h := range ctx.rules.add {
		if err := proxywasm.AddHttpResponseHeader(h.name, h.value); err != nil {
			proxywasm.LogCriticalf("failed to add header %s: %v", h.name, err)
		}
	}
	return types.ActionContinue
}
