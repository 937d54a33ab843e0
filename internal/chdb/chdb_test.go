package chdb_test

import (
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/internal/chdb"
	"github.com/vakt-dev/vakt/internal/testenv"
)

// One engine per process: the tests share it.
func openEngine(t *testing.T) *chdb.Engine {
	t.Helper()
	lib := testenv.CHDBLib(t)
	e, err := chdb.Open(lib, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func TestEngine(t *testing.T) {
	e := openEngine(t)
	c := e.Root()

	t.Run("query", func(t *testing.T) {
		r, err := c.Query("SELECT 40 + 2, 'x'", "TabSeparated")
		if err != nil || string(r.Data) != "42\tx\n" {
			t.Fatalf("%q %v", r.Data, err)
		}
	})
	t.Run("error carries code and text", func(t *testing.T) {
		_, err := c.Query("SELECT * FROM missing_table", "TabSeparated")
		var ce *chdb.Error
		if !errors.As(err, &ce) || ce.Code != 60 || !strings.Contains(ce.Message, "missing_table") {
			t.Fatalf("%#v", err)
		}
	})
	t.Run("bound parameters are not interpolated", func(t *testing.T) {
		r, err := c.QueryWithParams("SELECT {s:String}", "TSVRaw", map[string]string{"s": "'); DROP TABLE x; --"})
		if err != nil || string(r.Data) != `'); DROP TABLE x; --`+"\n" {
			t.Fatalf("%q %v", r.Data, err)
		}
	})
	t.Run("session settings stay in their session", func(t *testing.T) {
		s, err := e.Connect(map[string]string{"max_threads": "3"})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		r, _ := s.Query("SELECT getSetting('max_threads')", "TabSeparated")
		r2, _ := c.Query("SELECT getSetting('max_threads') = 3", "TabSeparated")
		if string(r.Data) != "3\n" || string(r2.Data) != "0\n" {
			t.Fatalf("session %q root %q", r.Data, r2.Data)
		}
	})
	t.Run("stream insert is binary safe", func(t *testing.T) {
		if _, err := c.Query("CREATE TABLE bin (s String) ENGINE = MergeTree ORDER BY tuple()", ""); err != nil {
			t.Fatal(err)
		}
		// RowBinary: length-prefixed strings holding NUL and newline bytes.
		payload := []byte{3, 'a', 0, 'b', 2, '\n', 0}
		r, err := c.Insert("INSERT INTO bin", "RowBinary", func(yield func([]byte) error) error {
			if err := yield(payload[:3]); err != nil {
				return err
			}
			return yield(payload[3:])
		})
		if err != nil || r.RowsWritten != 2 {
			t.Fatalf("insert: %v %+v", err, r)
		}
		out, _ := c.Query("SELECT sum(length(s)), countIf(position(s, '\\0') > 0) FROM bin", "TabSeparated")
		if string(out.Data) != "5\t2\n" {
			t.Fatalf("%q", out.Data)
		}
	})
	t.Run("stream insert error", func(t *testing.T) {
		if _, err := c.Query("CREATE TABLE nums (n UInt32) ENGINE = Memory", ""); err != nil {
			t.Fatal(err)
		}
		_, err := c.Insert("INSERT INTO nums", "CSV", func(yield func([]byte) error) error {
			return yield([]byte("1\nnot-a-number\n"))
		})
		if err == nil {
			t.Fatal("bad CSV accepted")
		}
		if _, err := c.Query("SELECT 1", ""); err != nil {
			t.Fatalf("session unusable after a failed insert: %v", err)
		}
	})
	t.Run("second engine refused", func(t *testing.T) {
		if _, err := chdb.Open("", t.TempDir()); err == nil {
			t.Fatal("a second engine opened in one process")
		}
	})
}

// TestGoKeepsItsSignals proves the engine is loaded so that Go's runtime
// keeps its signal handling: a nil-pointer panic is recovered and SIGTERM is
// delivered to signal.Notify. Run in a child process, because a regression
// would hang the process rather than fail.
func TestGoKeepsItsSignals(t *testing.T) {
	if os.Getenv("VAKT_SIGNAL_CHILD") == "1" {
		signalChild()
		return
	}
	testenv.CHDBLib(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestGoKeepsItsSignals$", "-test.v")
	cmd.Env = append(os.Environ(), "VAKT_SIGNAL_CHILD=1", "VAKT_SIGNAL_DIR="+t.TempDir())
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("child hung: the engine took over signal handling")
	}
	if err != nil {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
	for _, want := range []string{"recovered: runtime error: invalid memory address", "got signal: terminated"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("child output lacks %q:\n%s", want, out)
		}
	}
}

func signalChild() {
	e, err := chdb.Open("", os.Getenv("VAKT_SIGNAL_DIR"))
	if err != nil {
		println("open:", err.Error())
		os.Exit(2)
	}
	if _, err := e.Root().Query("SELECT 1", ""); err != nil {
		os.Exit(3)
	}
	func() {
		defer func() { println("recovered:", recover().(error).Error()) }()
		var p *struct{ x int }
		_ = p.x
	}()
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM)
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case s := <-ch:
		println("got signal:", s.String())
	case <-time.After(10 * time.Second):
		println("SIGTERM not delivered")
		os.Exit(4)
	}
}
