// Command osiris builds and runs data pipelines. See 'osiris --help'.
package main

import (
	"os"

	"github.com/osirisgo/osiris/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.SystemIO()))
}
