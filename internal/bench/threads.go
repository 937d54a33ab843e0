package bench

import (
	"cmp"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ThreadCPU is the CPU the process's threads of one name spent.
type ThreadCPU struct {
	Name string
	CPU  time.Duration
}

// threadCPU splits the process's CPU by thread name, which says where the
// embedded engine spends it: ClickHouse names a pool thread after the work
// it runs at the moment (MergeMutate for background merges, RuntimeData
// and ThreadPool for inserts and views), the Go runtime's threads carry
// the program's name. Each sample adds a thread's CPU since the last one
// to its name at that moment. Linux only (/proc); elsewhere it stays empty.
type threadCPU struct {
	last  map[string]int64 // clock ticks by thread id
	byKey map[string]int64 // clock ticks by thread name
}

func newThreadCPU() *threadCPU {
	t := &threadCPU{last: map[string]int64{}, byKey: map[string]int64{}}
	t.sample()
	clear(t.byKey) // the CPU before the import is not the import's
	return t
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

func (t *threadCPU) sample() {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return
	}
	for _, task := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + task.Name() + "/stat")
		if err != nil {
			continue // the thread ended
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		f := strings.Fields(s[end+1:])
		if len(f) < 13 {
			continue
		}
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		ticks := utime + stime
		if d := ticks - t.last[task.Name()]; d > 0 {
			t.byKey[strings.TrimRight(s[open+1:end], "0123456789")] += d
		}
		t.last[task.Name()] = ticks
	}
}

// result is the CPU by thread name, most first.
func (t *threadCPU) result() []ThreadCPU {
	var out []ThreadCPU
	for name, ticks := range t.byKey {
		out = append(out, ThreadCPU{name, time.Duration(ticks) * time.Second / clockTicks})
	}
	slices.SortFunc(out, func(a, b ThreadCPU) int { return cmp.Or(cmp.Compare(b.CPU, a.CPU), cmp.Compare(a.Name, b.Name)) })
	return out
}
