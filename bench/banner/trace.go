package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/chromedp/cdproto/cdp"
	cdpio "github.com/chromedp/cdproto/io"
	"github.com/chromedp/chromedp"
)

// traceEvent is the part of a Chrome trace event the script time needs.
type traceEvent struct {
	Name string  `json:"name"`
	Ph   string  `json:"ph"`
	Ts   float64 `json:"ts"`   // µs
	Dur  float64 `json:"dur"`  // µs, wall time
	TDur float64 `json:"tdur"` // µs, the thread's CPU time
	Tid  int     `json:"tid"`
	Pid  int     `json:"pid"`
	Args struct {
		SrcFile string `json:"src_file"`
		SrcFunc string `json:"src_func"`
		URL     string `json:"url"`
		Data    struct {
			URL string `json:"url"`
		} `json:"data"`
	} `json:"args"`
}

// threadNames names the traced threads, for --breakdown.
var threadNames = map[int]string{}

// readTrace reads a finished trace from the browser's stream: its complete ("X") events,
// and V8's samples if the trace has them.
func readTrace(ctx context.Context, stream cdpio.StreamHandle) ([]traceEvent, *cpuProfile, error) {
	var buf bytes.Buffer
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		defer cdp.Call(ctx, t, cdpio.Close, cdpio.CloseParams{Handle: stream}) //nolint:errcheck // the trace is read
		for {
			chunk, err := cdp.Call(ctx, t, cdpio.Read, cdpio.ReadParams{Handle: stream, Size: 1 << 20})
			if err != nil {
				return err
			}
			buf.Write(chunk.Data)
			if chunk.EOF {
				return nil
			}
		}
	}))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the trace: %w", err)
	}
	var trace struct {
		TraceEvents []json.RawMessage `json:"traceEvents"`
	}
	if err := json.Unmarshal(buf.Bytes(), &trace); err != nil {
		return nil, nil, fmt.Errorf("reading the trace: %w", err)
	}
	var all []traceEvent
	profile := newCPUProfile()
	for _, raw := range trace.TraceEvents {
		var te traceEvent
		if json.Unmarshal(raw, &te) != nil {
			continue
		}
		switch te.Ph {
		case "M":
			var m struct {
				Name string `json:"name"`
				Tid  int    `json:"tid"`
				Args struct {
					Name string `json:"name"`
				} `json:"args"`
			}
			if json.Unmarshal(raw, &m) == nil && m.Name == "thread_name" {
				threadNames[m.Tid] = m.Args.Name
			}
		case "X":
			all = append(all, te)
		case "P":
			profile.add(raw)
		}
	}
	return all, profile, nil
}

// sampleEvery is V8's sampling interval in a trace with the cpu_profiler category.
const sampleEvery = "100µs"

// cpuProfile gathers V8's samples from a trace's Profile and ProfileChunk events, so
// --breakdown can say which functions the main thread was in during the banner's script
// events. V8 samples by wall clock, so time spent blocked (a synchronous IPC, say) shows
// up under the function that blocked.
type cpuProfile struct {
	start  map[string]float64        // profile id → start, µs
	last   map[string]float64        // profile id → time of its last sample so far
	frames map[string]map[int]string // profile id → node id → "function url:line"
	tid    map[string]int
	hits   []profileSample
	chunks [][]byte // seen before their Profile event
}

type profileSample struct {
	tid   int
	ts    float64
	frame string
}

func newCPUProfile() *cpuProfile {
	return &cpuProfile{start: map[string]float64{}, last: map[string]float64{}, frames: map[string]map[int]string{}, tid: map[string]int{}}
}

// add reads one trace event of phase "P" (sample events).
func (p *cpuProfile) add(raw []byte) {
	var ev struct {
		Name string `json:"name"`
		ID   string `json:"id"`
		Tid  int    `json:"tid"`
		Args struct {
			Data struct {
				StartTime  float64 `json:"startTime"`
				CPUProfile struct {
					Nodes []struct {
						ID        int `json:"id"`
						CallFrame struct {
							FunctionName string `json:"functionName"`
							URL          string `json:"url"`
							LineNumber   int    `json:"lineNumber"`
							ColumnNumber int    `json:"columnNumber"`
						} `json:"callFrame"`
					} `json:"nodes"`
					Samples []int `json:"samples"`
				} `json:"cpuProfile"`
				TimeDeltas []float64 `json:"timeDeltas"`
			} `json:"data"`
		} `json:"args"`
	}
	if json.Unmarshal(raw, &ev) != nil {
		return
	}
	switch ev.Name {
	case "Profile":
		p.start[ev.ID], p.last[ev.ID], p.tid[ev.ID] = ev.Args.Data.StartTime, ev.Args.Data.StartTime, ev.Tid
		p.frames[ev.ID] = map[int]string{}
		for _, c := range p.chunks {
			p.add(c)
		}
		p.chunks = nil
	case "ProfileChunk":
		frames := p.frames[ev.ID]
		if frames == nil {
			p.chunks = append(p.chunks, raw)
			return
		}
		for _, n := range ev.Args.Data.CPUProfile.Nodes {
			f := n.CallFrame
			name := cmp.Or(f.FunctionName, "(anonymous)")
			if f.URL != "" {
				name += fmt.Sprintf(" %s:%d:%d", f.URL[strings.LastIndex(f.URL, "/")+1:], f.LineNumber, f.ColumnNumber)
			}
			frames[n.ID] = name
		}
		for i, id := range ev.Args.Data.CPUProfile.Samples {
			if i < len(ev.Args.Data.TimeDeltas) {
				p.last[ev.ID] += ev.Args.Data.TimeDeltas[i]
			}
			p.hits = append(p.hits, profileSample{tid: p.tid[ev.ID], ts: p.last[ev.ID], frame: frames[id]})
		}
	}
}

// inside sums the sampled time per function within the given events, largest first.
func (p *cpuProfile) inside(events []traceEvent) string {
	byFrame := map[string]float64{}
	for i, h := range p.hits {
		if i == 0 {
			continue
		}
		for _, e := range events {
			if h.tid == e.Tid && h.ts >= e.Ts && h.ts <= e.Ts+e.Dur {
				byFrame[h.frame] += (h.ts - p.hits[i-1].ts) / 1000
				break
			}
		}
	}
	names := make([]string, 0, len(byFrame))
	for n := range byFrame {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int { return cmp.Compare(byFrame[b], byFrame[a]) })
	var out []string
	for _, n := range names[:min(len(names), 12)] {
		out = append(out, fmt.Sprintf("%s %.1f", n, byFrame[n]))
	}
	return strings.Join(out, "; ")
}
