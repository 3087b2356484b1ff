package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
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

// trace is what a load's trace holds for the bench.
type trace struct {
	events  []traceEvent   // complete ("X") events
	threads map[int]string // thread id → name
	profile *cpuProfile    // V8's samples, with --breakdown
}

// readTrace reads a finished trace from the browser's stream.
func readTrace(ctx context.Context, stream cdpio.StreamHandle) (trace, error) {
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
		return trace{}, fmt.Errorf("reading the trace: %w", err)
	}
	var raw struct {
		TraceEvents []json.RawMessage `json:"traceEvents"`
	}
	if err := json.Unmarshal(buf.Bytes(), &raw); err != nil {
		return trace{}, fmt.Errorf("reading the trace: %w", err)
	}
	tr := trace{threads: map[int]string{}, profile: newCPUProfile()}
	for _, ev := range raw.TraceEvents {
		var te traceEvent
		if json.Unmarshal(ev, &te) != nil {
			continue
		}
		switch te.Ph {
		case "M":
			var m struct {
				Args struct {
					Name string `json:"name"`
				} `json:"args"`
			}
			if te.Name == "thread_name" && json.Unmarshal(ev, &m) == nil {
				tr.threads[te.Tid] = m.Args.Name
			}
		case "X":
			tr.events = append(tr.events, te)
		case "P":
			tr.profile.add(ev)
		}
	}
	return tr, nil
}

// printBreakdown tells, on stderr, where the banner's script time went in one traced load:
// the events inside its script events (CPU), V8's samples there (wall clock), what other
// threads ran meanwhile (the browser's too: they share this machine's two cores), and the
// page's main thread around the script.
func printBreakdown(url string, s sample, own []traceEvent, tr trace) {
	within := func(te, o traceEvent) bool { return te.Tid == o.Tid && te.Ts >= o.Ts && te.Ts+te.Dur <= o.Ts+o.Dur }
	inside := map[string]float64{}
	for _, te := range tr.events {
		for _, o := range own {
			if te != o && within(te, o) {
				inside[te.Name] += te.TDur / 1000 // nested events count in each parent
				break
			}
		}
	}
	fmt.Fprintf(os.Stderr, "%s: loaded %q; own %.1f ms; inside (CPU ms): %v; events (wall/CPU ms):", url, s.Resources, s.EvalMS, inside)
	for _, o := range own {
		fmt.Fprintf(os.Stderr, " %s %.1f/%.1f", o.Name, o.Dur/1000, o.TDur/1000)
	}
	fmt.Fprintf(os.Stderr, "\n  sampled inside them (ms, V8 samples every %v): %s\n", sampleEvery, tr.profile.inside(own))

	// Other threads' tasks overlapping the script events, CPU ms prorated by the overlap;
	// the browser's main thread also by where its tasks were posted from.
	others := map[string]float64{}
	for _, te := range tr.events {
		if te.Name != "ThreadControllerImpl::RunTask" && te.Name != "ThreadPool_RunTask" {
			continue
		}
		for _, o := range own {
			if te.Tid == o.Tid || te.Ts >= o.Ts+o.Dur || te.Ts+te.Dur <= o.Ts {
				continue
			}
			cpu := te.TDur / 1000
			if te.Dur > 0 {
				cpu *= (min(te.Ts+te.Dur, o.Ts+o.Dur) - max(te.Ts, o.Ts)) / te.Dur
			}
			others[fmt.Sprintf("%d/%s", te.Pid, tr.threads[te.Tid])] += cpu
			if tr.threads[te.Tid] == "CrBrowserMain" {
				others[te.Args.SrcFile+":"+te.Args.SrcFunc] += cpu
			}
		}
	}
	fmt.Fprintf(os.Stderr, "  other threads meanwhile (CPU ms): %v\n", others)
	if len(own) == 0 {
		return
	}
	// The page's main thread from 40 ms before the banner's script to 120 ms after its
	// start: event@start+wall/CPU, ms.
	shown := map[string]bool{"EvaluateScript": true, "FunctionCall": true, "ParseHTML": true, "UpdateLayoutTree": true, "Layout": true,
		"PrePaint": true, "Paint": true, "Commit": true, "ThreadControllerImpl::RunTask": true}
	var line []string
	for _, te := range tr.events {
		if te.Tid == own[0].Tid && shown[te.Name] && te.Dur >= 300 && te.Ts > own[0].Ts-40000 && te.Ts < own[0].Ts+120000 {
			line = append(line, fmt.Sprintf("%s@%.1f+%.1f/%.1f", te.Name, (te.Ts-own[0].Ts)/1000, te.Dur/1000, te.TDur/1000))
		}
	}
	fmt.Fprintf(os.Stderr, "  main thread: %s\n", strings.Join(line, " "))
	// Every thread from the end of the banner's first script to 60 ms after, when its first
	// frame is drawn: CPU ms per thread, and the ten longest kinds of event (wall ms, summed)
	// of the threads that draw it (raster workers, compositors, viz), not the page's main.
	end := own[0].Ts + own[0].Dur
	perThread, byName := map[string]float64{}, map[string]float64{}
	for _, te := range tr.events {
		if te.Ts < end || te.Ts > end+60000 {
			continue
		}
		if te.Name == "ThreadControllerImpl::RunTask" || te.Name == "ThreadPool_RunTask" {
			perThread[fmt.Sprintf("%d/%s", te.Pid, tr.threads[te.Tid])] += te.TDur / 1000
		} else if te.Tid != own[0].Tid && te.Dur >= 200 && !strings.Contains(te.Name, "RunTask") {
			byName[tr.threads[te.Tid]+":"+te.Name] += te.Dur / 1000
		}
	}
	names := slices.SortedFunc(maps.Keys(byName), func(a, b string) int { return cmp.Compare(byName[b], byName[a]) })
	var longest []string
	for _, n := range names[:min(len(names), 10)] {
		longest = append(longest, fmt.Sprintf("%s %.1f", n, byName[n]))
	}
	fmt.Fprintf(os.Stderr, "  60 ms after its script, CPU ms per thread: %v\n  and the longest events drawing (wall ms): %s\n", perThread, strings.Join(longest, "; "))
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
