package ingest

import (
	"io"
	"os"
	"sync/atomic"
)

// ImportProgress says how far an import has read its files, for a
// progress display.
type ImportProgress struct {
	// BytesRead and BytesTotal count the files as stored: compressed bytes
	// for a .gz file.
	BytesRead, BytesTotal int64
	Files, FilesDone      int
	File                  string // the file being read; empty before and after
}

// importProgress is ImportProgress kept up to date by the reading
// goroutine and read by another.
type importProgress struct {
	read, total      atomic.Int64
	files, filesDone atomic.Int64
	file             atomic.Pointer[string]
}

// start records the files of an import and their sizes.
func (p *importProgress) start(items []importItem) {
	var total int64
	for _, it := range items {
		if fi, err := os.Stat(it.path); err == nil {
			total += fi.Size()
		}
	}
	p.total.Store(total)
	p.files.Store(int64(len(items)))
}

// ImportProgress returns how far an import has read.
func (i *Ingest) ImportProgress() ImportProgress {
	p := &i.progress
	out := ImportProgress{BytesRead: p.read.Load(), BytesTotal: p.total.Load(),
		Files: int(p.files.Load()), FilesDone: int(p.filesDone.Load())}
	if f := p.file.Load(); f != nil {
		out.File = *f
	}
	return out
}

// countingReader adds what it reads to n.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}
