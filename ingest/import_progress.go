package ingest

import (
	"io"
	"os"
	"sync/atomic"

	"github.com/vakt-dev/vakt/internal/progress"
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

// ImportState is what an import's progress bar shows: how far it has read
// and, with stored, how far the store has committed.
func (i *Ingest) ImportState(stored uint64) progress.ImportState {
	fp, st := i.ImportProgress(), i.Stats()
	ps := progress.ImportState{Files: fp.Files, FilesDone: fp.FilesDone, File: fp.File, BytesRead: fp.BytesRead,
		BytesTotal: fp.BytesTotal, LinesRead: st.LinesRead, Stored: stored}
	for _, n := range st.Rejected {
		ps.Rejected += n
	}
	return ps
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
