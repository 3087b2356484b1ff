// Command bare is the baseline of bench/load.sh: a Fiber handler that only parses the
// beacon JSON and answers 204, so the load script can print full pipeline / bare.
package main

import (
	"encoding/json"
	"flag"
	"log"

	"github.com/gofiber/fiber/v2"
)

type beacon struct {
	Site     string            `json:"site"`
	Type     string            `json:"type"`
	URL      string            `json:"url"`
	Referrer string            `json:"referrer"`
	Name     string            `json:"name"`
	Props    map[string]string `json:"props"`
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8099", "address")
	flag.Parse()
	app := fiber.New(fiber.Config{DisableStartupMessage: true, BodyLimit: 8192})
	app.Post("/v1/collect", func(c *fiber.Ctx) error {
		var b beacon
		if err := json.Unmarshal(c.Body(), &b); err != nil {
			return c.SendStatus(fiber.StatusBadRequest)
		}
		return c.SendStatus(fiber.StatusNoContent)
	})
	log.Fatal(app.Listen(*listen))
}
