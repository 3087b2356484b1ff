// Command gen writes banner/dist from banner/src (run by `go generate ./banner`).
package main

import (
	"log"
	"os"

	"github.com/consentry/consentry/banner/internal/minify"
)

func main() {
	files, err := minify.Dist(".")
	if err != nil {
		log.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(name, data, 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
