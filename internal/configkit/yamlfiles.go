package configkit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// YAMLFile is one rule or signature file: where it came from (Src, for
// messages), its name with .yml spelt .yaml (Base, which a later file of
// the same name replaces) and its content.
type YAMLFile struct {
	Src, Base string
	Data      []byte
}

// ReadYAMLFiles returns the files of builtin matching pattern (Src
// "builtin:" + prefix + name), then the *.yaml and *.yml files of each of
// dirs in order; empty dirs are skipped, and so are dirs that do not exist
// when optional. Every unreadable file or directory is reported, each
// naming its path, and the others are still read.
func ReadYAMLFiles(builtin fs.FS, pattern, prefix string, dirs []string, optional bool) ([]YAMLFile, error) {
	var out []YAMLFile
	names, err := fs.Glob(builtin, pattern)
	if err != nil {
		return nil, fmt.Errorf("built-in %s: %w", pattern, err)
	}
	for _, n := range names {
		b, err := fs.ReadFile(builtin, n)
		if err != nil {
			return nil, fmt.Errorf("built-in %s: %w", n, err)
		}
		out = append(out, YAMLFile{Src: "builtin:" + prefix + path.Base(n), Base: path.Base(n), Data: b})
	}
	var errs []error
	for _, dir := range dirs {
		if dir == "" {
			continue
		}
		entries, err := os.ReadDir(dir)
		if optional && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, err) // names the directory
			continue
		}
		for _, e := range entries {
			ext := filepath.Ext(e.Name())
			if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
				continue
			}
			p := filepath.Join(dir, e.Name())
			b, err := os.ReadFile(p)
			if err != nil {
				errs = append(errs, err) // names the file
				continue
			}
			out = append(out, YAMLFile{Src: p, Base: strings.TrimSuffix(e.Name(), ext) + ".yaml", Data: b})
		}
	}
	return out, errors.Join(errs...)
}
