package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// NginxBin returns the path of Debian's nginx. Without it a test fails in
// CI (make deps installs it) and is skipped elsewhere, saying how to get it.
func NginxBin(tb testing.TB) string {
	tb.Helper()
	for _, p := range []string{"nginx", "/usr/sbin/nginx"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if CI() {
		tb.Fatal("nginx is required in CI: `make deps` installs Debian's nginx package")
	}
	tb.Skip("skipping: nginx not installed (apt-get install nginx, or make deps)")
	return ""
}

// Nginx is an nginx started by a test in its own directory.
type Nginx struct {
	Dir string // prefix: logs, pid file, temp paths
	cmd *exec.Cmd
}

// StartNginx runs nginx in the foreground (daemon off, one process) with
// http holding the contents of the http {} block; "DIR" in it stands for
// the test's directory. It waits until every port in ports accepts
// connections, and stops nginx (gracefully, so logs are complete) when the
// test ends, or earlier with Stop.
func StartNginx(tb testing.TB, http string, ports ...int) *Nginx {
	tb.Helper()
	bin := NginxBin(tb)
	dir := tb.TempDir()
	for _, d := range []string{"www", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
error_log DIR/error.log info;
pid DIR/nginx.pid;
events { worker_connections 64; }
http {
  client_body_temp_path DIR/tmp/body;
  proxy_temp_path DIR/tmp/proxy;
  fastcgi_temp_path DIR/tmp/fastcgi;
  uwsgi_temp_path DIR/tmp/uwsgi;
  scgi_temp_path DIR/tmp/scgi;
  access_log off;
%s
}
`, http)
	conf = strings.ReplaceAll(conf, "DIR", dir)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", path, "-p", dir, "-e", filepath.Join(dir, "error.log"))
	out, err := os.Create(filepath.Join(dir, "stderr.log"))
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start nginx: %v", err)
	}
	n := &Nginx{Dir: dir, cmd: cmd}
	tb.Cleanup(func() { n.Stop(); out.Close() })
	deadline := time.Now().Add(10 * time.Second)
	for _, port := range ports {
		for {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) || cmd.ProcessState != nil {
				log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
				se, _ := os.ReadFile(filepath.Join(dir, "stderr.log"))
				tb.Fatalf("nginx does not listen on %d: %v\n%s\n%s", port, err, se, log)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return n
}

// Stop stops nginx gracefully (SIGQUIT: requests finish, logs are
// written) and waits for it.
func (n *Nginx) Stop() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	cmd := n.cmd
	n.cmd = nil
	_ = cmd.Process.Signal(syscall.SIGQUIT)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}
