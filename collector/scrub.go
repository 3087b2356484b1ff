package collector

import (
	"net/netip"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// Placeholders that replace scrubbed values, so analysts still see the shape of a path.
const (
	RedactedEmail = ":email"
	RedactedIP    = ":ip"
	RedactedToken = ":token"
	RedactedUA    = ":ua"
)

var (
	emailPattern = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`)
	jwtPattern   = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`)
	ipv4Pattern  = regexp.MustCompile(`\b\d{1,3}(?:\.\d{1,3}){3}\b`)
	// ipv6Pattern finds candidates only; each is confirmed by netip before it is scrubbed.
	ipv6Pattern = regexp.MustCompile(`[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:%[0-9A-Za-z]+)?`)
	uuidPattern = regexp.MustCompile(`[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}`)
	// wordPattern splits text into candidate tokens (base64url alphabet plus '+', '/', '=').
	wordPattern = regexp.MustCompile(`[A-Za-z0-9_+/=-]{16,}`)
	uaPattern   = regexp.MustCompile(`(?i)mozilla/\d|applewebkit/\d|gecko/\d|chrome/\d+\.\d|safari/\d+\.\d`)
)

// ScrubText removes personal data and secrets from free text (names, property values, path
// segments): e-mail addresses, IP addresses, JWTs, UUIDs, long random-looking tokens and
// user-agent strings; exact occurrences of the given secrets (the request's own IP and user
// agent) go first.
func ScrubText(s string, secrets ...string) string {
	if s == "" {
		return s
	}
	for _, sec := range secrets {
		if len(sec) >= 3 && strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, ":redacted")
		}
	}
	// Cheap byte counts decide which patterns can match at all: most path segments,
	// names and values are short plain words and skip every regexp.
	var digits, dots, colons, dashes, slashes int
	at := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.':
			dots++
		case c == ':':
			colons++
		case c == '-':
			dashes++
		case c == '/':
			slashes++
		case c == '@':
			at = true
		}
	}
	if slashes > 0 && digits > 0 && uaPattern.MatchString(s) {
		return RedactedUA
	}
	for at {
		// Repeat: "a@b.cc@d.ee" leaves ":email@d.ee", itself shaped like an address.
		// Each round removes at least one '@', so this ends.
		next := emailPattern.ReplaceAllLiteralString(s, RedactedEmail)
		at = next != s && strings.Contains(next, "@")
		s = next
	}
	if dots >= 2 && strings.Contains(s, "eyJ") {
		s = jwtPattern.ReplaceAllLiteralString(s, RedactedToken)
	}
	if dashes >= 4 && len(s) >= 36 {
		s = uuidPattern.ReplaceAllLiteralString(s, RedactedToken)
	}
	if dots >= 3 && digits >= 4 {
		s = ipv4Pattern.ReplaceAllStringFunc(s, func(m string) string {
			if _, err := netip.ParseAddr(m); err == nil {
				return RedactedIP
			}
			return m
		})
	}
	if colons >= 2 {
		s = ipv6Pattern.ReplaceAllStringFunc(s, func(m string) string {
			if a, err := netip.ParseAddr(m); err == nil && a.Is6() {
				return RedactedIP
			}
			return m
		})
	}
	if len(s) < 16 {
		return s
	}
	return wordPattern.ReplaceAllStringFunc(s, func(w string) string {
		if looksLikeToken(w) {
			return RedactedToken
		}
		return w
	})
}

// looksLikeToken tells random identifiers from words and slugs: long hex strings, and
// long strings that mix character classes the way base64 and random ids do.
func looksLikeToken(w string) bool {
	var lower, upper, digit, hex int
	for _, r := range w {
		switch {
		case r >= 'a' && r <= 'z':
			lower++
			if r <= 'f' {
				hex++
			}
		case r >= 'A' && r <= 'Z':
			upper++
			if r <= 'F' {
				hex++
			}
		case r >= '0' && r <= '9':
			digit++
			hex++
		}
	}
	n := len(w)
	switch {
	case hex == n && digit > 0 && n >= 16:
		return true // hex: session ids, hashes
	case lower > 0 && upper > 0 && digit > 0 && n >= 20:
		return true // base64 / random ids mix all three
	case digit*4 >= n && n >= 24 && (lower > 0 || upper > 0):
		return true // long strings that are a quarter digits or more
	}
	return false
}

// CleanURL is a page URL reduced to what the privacy rules allow to be stored.
type CleanURL struct {
	Host  string
	Path  string
	Query string // allowlisted, non-utm parameters, sorted, scrubbed
	UTM   UTM
}

// UTM holds the campaign parameters that get columns of their own.
type UTM struct {
	Source, Medium, Campaign, Term, Content string
}

// ScrubURL keeps the path (each segment scrubbed) and the allowlisted query parameters of
// raw; fragments, user info and every other parameter are dropped.
func ScrubURL(raw string, allowParam func(string) bool, secrets ...string) (CleanURL, bool) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return CleanURL{}, false
	}
	c := CleanURL{Host: strings.ToLower(u.Hostname())}
	c.Path = scrubPath(u.EscapedPath(), secrets)
	if u.RawQuery == "" {
		return c, true
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		// A malformed query keeps what parsed; nothing unparsed is stored.
		q, _ = url.ParseQuery(strings.Map(func(r rune) rune {
			if r == ';' {
				return '&'
			}
			return r
		}, u.RawQuery))
	}
	keep := url.Values{}
	for k, vs := range q {
		if !allowParam(k) || len(vs) == 0 {
			continue
		}
		v := ScrubText(vs[0], secrets...)
		switch k {
		case "utm_source":
			c.UTM.Source = v
		case "utm_medium":
			c.UTM.Medium = v
		case "utm_campaign":
			c.UTM.Campaign = v
		case "utm_term":
			c.UTM.Term = v
		case "utm_content":
			c.UTM.Content = v
		default:
			keep.Set(k, v)
		}
	}
	c.Query = encodeSorted(keep)
	return c, true
}

func scrubPath(escaped string, secrets []string) string {
	if escaped == "" {
		return "/"
	}
	segs := strings.Split(escaped, "/")
	for i, seg := range segs {
		if seg == "" {
			continue
		}
		dec, err := url.PathUnescape(seg)
		if err != nil {
			dec = seg
		}
		clean := ScrubText(dec, secrets...)
		if clean != dec {
			segs[i] = url.PathEscape(clean)
			segs[i] = strings.ReplaceAll(segs[i], "%3A", ":")
		}
	}
	p := strings.Join(segs, "/")
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return p
}

func encodeSorted(v url.Values) string {
	if len(v) == 0 {
		return ""
	}
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(k))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(v.Get(k)))
	}
	return b.String()
}

// ReferrerHost reduces a referrer to its host; it returns "" for unparsable referrers,
// non-web schemes, IP-address hosts and hosts that isOwn says belong to the site itself.
func ReferrerHost(raw string, isOwn func(host string) bool) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return ""
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" || isOwn(host) {
		return ""
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return ""
	}
	if ScrubText(host) != host {
		return ""
	}
	return host
}
