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

// Sources minifies the banner script and its styles.
func Sources(js, css []byte) (jsMin, cssMin []byte, err error) {
	opts := api.TransformOptions{MinifyWhitespace: true, MinifyIdentifiers: true, MinifySyntax: true, Target: api.ES2020, LegalComments: api.LegalCommentsNone}
	if jsMin, err = transform(js, api.LoaderJS, opts); err != nil {
		return nil, nil, fmt.Errorf("banner.js: %w", err)
	}
	// The styles nest their rules (see banner.css), unnested here for every browser that
	// has :is(), which the unnested rules keep.
	opts.Engines = []api.Engine{{Name: api.EngineChrome, Version: "88"}, {Name: api.EngineEdge, Version: "88"}, {Name: api.EngineFirefox, Version: "78"}, {Name: api.EngineSafari, Version: "14"}}
	if cssMin, err = transform(css, api.LoaderCSS, opts); err != nil {
		return nil, nil, fmt.Errorf("banner.css: %w", err)
	}
	return jsMin, cssMin, nil
}

// Dist reads the sources under dir (src/banner.js, src/banner.css) and returns what
// belongs in dir/dist, by path: what `go generate ./banner` writes and banner's tests
// compare with the committed files.
func Dist(dir string) (map[string][]byte, error) {
	js, err := os.ReadFile(filepath.Join(dir, "src", "banner.js"))
	if err != nil {
		return nil, err
	}
	css, err := os.ReadFile(filepath.Join(dir, "src", "banner.css"))
	if err != nil {
		return nil, err
	}
	jsMin, cssMin, err := Sources(js, css)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{
		filepath.Join(dir, "dist", "banner.min.js"):  jsMin,
		filepath.Join(dir, "dist", "banner.min.css"): cssMin,
	}, nil
}

func transform(src []byte, loader api.Loader, opts api.TransformOptions) ([]byte, error) {
	opts.Loader = loader
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
