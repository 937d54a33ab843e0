package app

import "github.com/vakt-dev/vakt/internal/output"

// Output formats of `vakt sql`, `vakt report` and the listing commands.
const (
	FormatTable = output.Table
	FormatJSON  = output.JSON
	FormatCSV   = output.CSV
	FormatTSV   = output.TSV
)
