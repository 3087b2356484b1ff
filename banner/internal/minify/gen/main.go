// Command gen writes banner/dist from banner/src (run by `go generate ./banner`).
package main

import (
	"log"
	"os"

	"github.com/consentry/consentry/banner/internal/minify"
)

func main() {
	js, err := os.ReadFile("src/banner.js")
	if err != nil {
		log.Fatal(err)
	}
	css, err := os.ReadFile("src/banner.css")
	if err != nil {
		log.Fatal(err)
	}
	jsMin, cssMin, err := minify.Sources(js, css)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("dist/banner.min.js", jsMin, 0o644); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("dist/banner.min.css", cssMin, 0o644); err != nil {
		log.Fatal(err)
	}
}
