package store

import (
	"reflect"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/internal/event"
)

// TestRowsKeep: dropping rows of erased clients keeps every column aligned
// and the size right.
func TestRowsKeep(t *testing.T) {
	var r rows
	keep := make([]bool, 7)
	var want []string
	for i := range 7 {
		e := &event.Event{Time: time.UnixMilli(int64(1000 + i)), Site: "s", ClientID: uint64(i), Epoch: 3, Path: "/p" + string(rune('a'+i)),
			Status: uint16(200 + i), UserAgent: "ua", Signature: "sig" + string(rune('a'+i)), RequestTime: time.Duration(i) * time.Millisecond}
		r.add(e, uint64(i))
		keep[i] = i%3 != 1
		if keep[i] {
			want = append(want, e.Path)
		}
	}
	r.keep(keep)
	if r.len() != len(want) {
		t.Fatalf("%d rows kept, want %d", r.len(), len(want))
	}
	var check rows
	for i := range r.len() {
		if r.path[i] != want[i] {
			t.Fatalf("row %d: path %s, want %s", i, r.path[i], want[i])
		}
		id := r.clientID[i]
		if r.ts[i] != int64(1000+id) || r.status[i] != uint16(200+id) || r.batchKey[i] != id || r.requestTime[i] != float32(id)/1000 {
			t.Errorf("row %d: columns out of line: ts %d status %d key %d rt %v", i, r.ts[i], r.status[i], r.batchKey[i], r.requestTime[i])
		}
		check.add(&event.Event{Time: time.UnixMilli(r.ts[i]), Site: r.site[i], Path: r.path[i], UserAgent: r.userAgent[i], Signature: r.signature[i]}, 0)
	}
	if r.size != check.size {
		t.Errorf("size %d, want %d", r.size, check.size)
	}
	// Every column, including those added later, is as long as the rows.
	v := reflect.ValueOf(r)
	slices := 0
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Slice {
			slices++
			if f.Len() != r.len() {
				t.Errorf("column %s has %d entries, want %d", v.Type().Field(i).Name, f.Len(), r.len())
			}
		}
	}
	if n := len(r.all()); n != slices {
		t.Errorf("rows.all lists %d columns, rows has %d", n, slices)
	}
}
