package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const natsServerModule = "github.com/nats-io/nats-server/v2"

var (
	natsServerBinOnce sync.Once
	natsServerBin     string
	natsServerBinErr  error
)

// NATSServerBinary returns the path of a nats-server executable built from
// the module version this project depends on (go.mod), so that a test can
// run servers as separate processes and kill them. It is built once and
// cached under the user's cache dir, per version, like libchdb.
func NATSServerBinary(tb testing.TB) string {
	tb.Helper()
	natsServerBinOnce.Do(func() { natsServerBin, natsServerBinErr = buildNATSServer() })
	if natsServerBinErr != nil {
		tb.Fatalf("build nats-server: %v", natsServerBinErr)
	}
	return natsServerBin
}

func buildNATSServer() (string, error) {
	version := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == natsServerModule {
				version = d.Version
			}
		}
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "vakt", "nats-server-"+version)
	bin := filepath.Join(dir, "nats-server")
	if _, err := os.Stat(bin); err == nil && version != "unknown" {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	// Built to a temporary name and renamed: test binaries of several
	// packages may build it at once.
	tmp, err := os.CreateTemp(dir, "nats-server-*")
	if err != nil {
		return "", err
	}
	tmp.Close()
	build := exec.Command("go", "build", "-o", tmp.Name(), natsServerModule)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("go build %s: %w\n%s", natsServerModule, err, out)
	}
	return bin, os.Rename(tmp.Name(), bin)
}

// NATSCluster is a JetStream cluster of nats-server processes on loopback,
// each with its own store dir and fixed ports, so that a node can be
// killed, stopped (SIGSTOP) and started again where its peers and clients
// find it.
type NATSCluster struct {
	tb    testing.TB
	bin   string
	Nodes []*NATSNode
	// Dir holds each node's config, log and JetStream store (Dir/<name>).
	Dir string
}

// NATSNode is one server of a NATSCluster.
type NATSNode struct {
	Name       string
	Port       int
	storeDir   string
	conf       string
	logFile    string
	mu         sync.Mutex
	cmd        *exec.Cmd
	done       chan struct{}
	stoppedSig bool
}

// RunNATSCluster starts n nats-server processes clustered with routes to
// each other and JetStream on, and waits until JetStream has a meta
// leader. The servers are killed when the test ends.
func RunNATSCluster(tb testing.TB, n int) *NATSCluster {
	tb.Helper()
	dir := tb.TempDir()
	c := &NATSCluster{tb: tb, bin: NATSServerBinary(tb), Dir: dir}
	clientPorts, routePorts := freePorts(tb, n), freePorts(tb, n)
	var routes []string
	for _, p := range routePorts {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
	}
	for i := range n {
		node := &NATSNode{Name: fmt.Sprintf("n%d", i+1), Port: clientPorts[i]}
		nodeDir := filepath.Join(dir, node.Name)
		node.storeDir = filepath.Join(nodeDir, "js")
		if err := os.MkdirAll(nodeDir, 0o700); err != nil {
			tb.Fatal(err)
		}
		conf := fmt.Sprintf(`server_name: %s
host: 127.0.0.1
port: %d
max_payload: 8MB
jetstream {
  store_dir: %q
  max_memory_store: 1GB
  max_file_store: 4GB
}
cluster {
  name: vakt-test
  host: 127.0.0.1
  port: %d
  routes: [%s]
}
`, node.Name, node.Port, node.storeDir, routePorts[i], strings.Join(routes, ", "))
		node.conf = filepath.Join(nodeDir, "nats.conf")
		node.logFile = filepath.Join(nodeDir, "nats.log")
		if err := os.WriteFile(node.conf, []byte(conf), 0o600); err != nil {
			tb.Fatal(err)
		}
		c.Nodes = append(c.Nodes, node)
	}
	for _, node := range c.Nodes {
		c.Start(node)
	}
	tb.Cleanup(func() {
		for _, node := range c.Nodes {
			node.kill()
		}
	})
	c.WaitJetStream(60 * time.Second)
	return c
}

func freePorts(tb testing.TB, n int) []int {
	tb.Helper()
	ports := make([]int, n)
	for i := range ports {
		ports[i] = FreePort(tb) // outside the ephemeral range: a restarted node gets its port back
	}
	return ports
}

// URLs is the node list as vakt's nats.url takes it.
func (c *NATSCluster) URLs() string {
	var urls []string
	for _, n := range c.Nodes {
		urls = append(urls, n.URL())
	}
	return strings.Join(urls, ",")
}

// JetStreamDir is where the node keeps its JetStream state: streams under
// $G/streams/<name>, Raft groups under $SYS/_js_/<group>.
func (n *NATSNode) JetStreamDir() string { return filepath.Join(n.storeDir, "jetstream") }

// URL is the node's client URL.
func (n *NATSNode) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.Port) }

// Node returns the node named name (a server_name), nil if none.
func (c *NATSCluster) Node(name string) *NATSNode {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Start starts node (again, on its store dir and ports) and waits until it
// accepts connections.
func (c *NATSCluster) Start(node *NATSNode) {
	c.tb.Helper()
	logf, err := os.OpenFile(node.logFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		c.tb.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(c.bin, "-c", node.conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		c.tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	node.mu.Lock()
	node.cmd, node.done, node.stoppedSig = cmd, done, false
	node.mu.Unlock()
	WaitFor(c.tb, 30*time.Second, "nats-server "+node.Name+" accepting connections", func() bool {
		select {
		case <-done:
			c.tb.Fatalf("nats-server %s exited:\n%s", node.Name, node.LogTail(30))
		default:
		}
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", node.Port), time.Second)
		if err == nil {
			conn.Close()
		}
		return err == nil
	})
}

// Kill ends node with SIGKILL: no shutdown, no flush.
func (n *NATSNode) Kill() { n.kill() }

func (n *NATSNode) kill() {
	n.mu.Lock()
	cmd, done, stopped := n.cmd, n.done, n.stoppedSig
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	if stopped {
		cmd.Process.Signal(syscall.SIGCONT)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// Pause stops node receiving anything (SIGSTOP): its peers and clients see
// it partitioned away, its connections stay open. Resume ends that.
func (n *NATSNode) Pause() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cmd.Process.Signal(syscall.SIGSTOP)
	n.stoppedSig = true
}

// Resume lets a paused node run again (SIGCONT).
func (n *NATSNode) Resume() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cmd.Process.Signal(syscall.SIGCONT)
	n.stoppedSig = false
}

// LogTail returns the last lines of the node's log, for a failure message.
func (n *NATSNode) LogTail(lines int) string {
	b, _ := os.ReadFile(n.logFile)
	l := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(l[max(0, len(l)-lines):], "\n")
}

// Connect connects a client to every node (it fails over as vakt's do).
func (c *NATSCluster) Connect() (*nats.Conn, jetstream.JetStream) {
	c.tb.Helper()
	nc, err := nats.Connect(c.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		c.tb.Fatal(err)
	}
	c.tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		c.tb.Fatal(err)
	}
	return nc, js
}

// WaitJetStream waits until the cluster's JetStream answers account info
// (it has a meta leader).
func (c *NATSCluster) WaitJetStream(timeout time.Duration) {
	c.tb.Helper()
	nc, js := c.Connect()
	defer nc.Close()
	WaitFor(c.tb, timeout, "a JetStream meta leader in the NATS cluster", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err == nil
	})
}

// StreamLeader returns the node that leads stream, nil while it has none
// (or the question fails, as during an election).
func (c *NATSCluster) StreamLeader(js jetstream.JetStream, stream string) *NATSNode {
	info := c.StreamCluster(js, stream)
	if info == nil {
		return nil
	}
	return c.Node(info.Leader)
}

// StreamCluster returns the stream's cluster info, nil if it cannot be had.
func (c *NATSCluster) StreamCluster(js jetstream.JetStream, stream string) *jetstream.ClusterInfo {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil
	}
	return s.CachedInfo().Cluster
}

// StreamCurrent reports whether stream has a leader and every other
// replica is current: a restarted node has caught up.
func (c *NATSCluster) StreamCurrent(js jetstream.JetStream, stream string, replicas int) bool {
	info := c.StreamCluster(js, stream)
	if info == nil || info.Leader == "" || len(info.Replicas) != replicas-1 {
		return false
	}
	for _, r := range info.Replicas {
		if !r.Current || r.Offline {
			return false
		}
	}
	return true
}
