package subject

import (
	"encoding/json"
	"io"
)

// writeJSON writes v as indented JSON: every answer's --format json.
func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
