package collector

import (
	"strings"

	lru "github.com/hashicorp/golang-lru/v2"
	useragent "github.com/medama-io/go-useragent"
	"github.com/x-way/crawlerdetect"
)

// Agent is all that is kept of a user agent: never the raw string.
type Agent struct {
	Browser string // e.g. "Chrome"
	Version string // major version only, e.g. "131"
	OS      string
	Device  string // desktop, mobile, tablet, tv
	Bot     bool
}

// AgentParser reduces user-agent strings to an Agent. Parsing (and the crawler regexps)
// cost microseconds, so results are kept in a bounded LRU cache keyed by the string.
type AgentParser struct {
	ua    *useragent.Parser
	cache *lru.Cache[string, Agent]
}

// NewAgentParser returns a parser whose cache holds at most size user agents.
func NewAgentParser(size int) (*AgentParser, error) {
	c, err := lru.New[string, Agent](size)
	if err != nil {
		return nil, err
	}
	return &AgentParser{ua: useragent.NewParser(), cache: c}, nil
}

// headlessMarkers are automation tools that announce themselves but are not crawlers.
var headlessMarkers = []string{"headlesschrome", "phantomjs", "electron/", "puppeteer", "playwright", "selenium", "webdriver", "lighthouse", "chrome-lighthouse"}

// Parse classifies ua. ua may be a view into a reused request buffer: only a copy of it
// is kept (as the cache key), and only on a cache miss.
func (p *AgentParser) Parse(ua string) Agent {
	if a, ok := p.cache.Get(ua); ok {
		return a
	}
	a := p.parse(ua)
	p.cache.Add(strings.Clone(ua), a)
	return a
}

func (p *AgentParser) parse(ua string) Agent {
	if len(ua) < 10 {
		return Agent{Bot: true}
	}
	r := p.ua.Parse(ua)
	a := Agent{
		Browser: string(r.Browser()),
		Version: r.BrowserVersionMajor(),
		OS:      string(r.OS()),
		Device:  strings.ToLower(string(r.Device())),
	}
	lower := strings.ToLower(ua)
	switch {
	case r.IsBot(), crawlerdetect.IsCrawler(ua):
		a.Bot = true
	case !strings.HasPrefix(lower, "mozilla/") && !strings.HasPrefix(lower, "opera/"):
		a.Bot = true // curl, libraries, scripts: every browser sends Mozilla/ (or old Opera/)
	default:
		for _, m := range headlessMarkers {
			if strings.Contains(lower, m) {
				a.Bot = true
				break
			}
		}
	}
	if a.Bot {
		return Agent{Bot: true}
	}
	if a.Device == "" {
		a.Device = "unknown"
	}
	return a
}
