// Package minify turns the banner's readable sources into what is served, with esbuild.
// It runs at `go generate ./banner` and in banner's tests (which check that the committed
// output is current), never in the service: the binary carries no minifier.
package minify

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/evanw/esbuild/pkg/api"
)

// Script minifies the banner script.
func Script(js []byte) ([]byte, error) {
	min, err := transform(js, api.LoaderJS, api.TransformOptions{})
	if err != nil {
		return nil, fmt.Errorf("banner.js: %w", err)
	}
	return min, nil
}

// Styles minifies a stylesheet. The styles nest their rules (see banner.css), unnested
// here for every browser that has :is(), which the unnested rules keep.
func Styles(css []byte) ([]byte, error) {
	return transform(css, api.LoaderCSS, api.TransformOptions{Engines: []api.Engine{{Name: api.EngineChrome, Version: "88"},
		{Name: api.EngineEdge, Version: "88"}, {Name: api.EngineFirefox, Version: "78"}, {Name: api.EngineSafari, Version: "14"}}})
}

// Dist reads the sources under dir (src/banner.js, and every stylesheet in src: banner.css
// for every site, the others only for sites with the feature they are named after) and
// returns what belongs in dir/dist, by path: what `go generate ./banner` writes and
// banner's tests compare with the committed files.
func Dist(dir string) (map[string][]byte, error) {
	js, err := os.ReadFile(filepath.Join(dir, "src", "banner.js"))
	if err != nil {
		return nil, err
	}
	jsMin, err := Script(js)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{filepath.Join(dir, "dist", "banner.min.js"): jsMin}
	sheets, err := filepath.Glob(filepath.Join(dir, "src", "*.css"))
	if err != nil {
		return nil, err
	}
	for _, p := range sheets {
		css, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		name := strings.TrimSuffix(filepath.Base(p), ".css")
		if out[filepath.Join(dir, "dist", name+".min.css")], err = Styles(css); err != nil {
			return nil, fmt.Errorf("%s.css: %w", name, err)
		}
	}
	return out, nil
}

func transform(src []byte, loader api.Loader, opts api.TransformOptions) ([]byte, error) {
	opts.Loader = loader
	opts.MinifyWhitespace, opts.MinifyIdentifiers, opts.MinifySyntax = true, true, true
	opts.Target, opts.LegalComments = api.ES2020, api.LegalCommentsNone
	r := api.Transform(string(src), opts)
	if len(r.Errors) > 0 {
		m := r.Errors[0]
		if m.Location != nil {
			return nil, fmt.Errorf("line %d: %s", m.Location.Line, m.Text)
		}
		return nil, fmt.Errorf("%s", m.Text)
	}
	return []byte(strings.TrimSpace(string(r.Code)) + "\n"), nil
}
