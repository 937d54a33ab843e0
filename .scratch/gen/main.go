package main

import (
	"os"
	"time"

	"github.com/vakt-dev/vakt/internal/loggen"
)

func main() {
	g := loggen.New(loggen.Config{Seed: 1, Clients: 300, Start: time.Now().Add(-time.Hour), Rate: 10})
	if _, err := g.WriteFile(os.Args[1], 20000); err != nil {
		panic(err)
	}
}
