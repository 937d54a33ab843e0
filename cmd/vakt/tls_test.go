package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/vakt-dev/vakt/internal/testenv"
)

// writeTLSFiles makes a CA and a server certificate for 127.0.0.1 and
// writes the CA to caFile.
func writeTLSFiles(t *testing.T, dir string) (caFile string, serverCert tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vakt test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600)
	return caFile, tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}
}

// startSecureNATS runs a nats-server with JetStream that only speaks TLS
// and only accepts user vakt with the given password.
func startSecureNATS(t *testing.T, password string) (url, caFile string) {
	t.Helper()
	dir := t.TempDir()
	caFile, cert := writeTLSFiles(t, dir)
	opts := &server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: filepath.Join(dir, "js"), NoSigs: true, NoLog: true,
		TLS: true, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		Users: []*server.User{{Username: "vakt", Password: password}},
	}
	ns := startNATSServer(t, opts)
	return fmt.Sprintf("tls://127.0.0.1:%d", ns.opts.Port), caFile
}

func TestStagesOverTLSWithCredentials(t *testing.T) {
	testenv.CHDBLib(t)
	url, caFile := startSecureNATS(t, "s3cret-pass")
	work := t.TempDir()
	pwFile := filepath.Join(work, "nats-password")
	os.WriteFile(pwFile, []byte("s3cret-pass\n"), 0o600)
	tl := writeTestLog(t, work, 2_000, 300)

	conf := func(name, passwordFile string) string {
		f := filepath.Join(work, name)
		os.WriteFile(f, []byte(fmt.Sprintf("nats:\n  url: %s\n  user: vakt\n  password_file: %s\n  ca_file: %s\nclickhouse:\n  listen: 127.0.0.1:0\nhttp:\n  listen: \"\"\n",
			url, passwordFile, caFile)), 0o600)
		return f
	}

	dataDir := filepath.Join(work, "data")
	stdout, stderr, err := vakt(t, "import", "--config", conf("good.yaml", pwFile), "--data-dir", dataDir, tl.path)
	if err != nil {
		t.Fatalf("import over TLS: %v\n%s\n%s", err, stdout, stderr)
	}
	if !strings.Contains(stdout, fmt.Sprintf("stored:      %d", tl.valid)) {
		t.Fatalf("not everything stored over TLS:\n%s", stdout)
	}
	if strings.Contains(stdout+stderr, "s3cret-pass") {
		t.Fatal("the NATS password appears in vakt's output")
	}

	// Wrong credentials: a clear error, quickly, not a hang.
	badPw := filepath.Join(work, "bad-password")
	os.WriteFile(badPw, []byte("wrong"), 0o600)
	start := time.Now()
	_, stderr, err = vakt(t, "import", "--config", conf("bad.yaml", badPw), "--data-dir", filepath.Join(work, "data2"), tl.path)
	if err == nil {
		t.Fatal("import with a wrong password succeeded")
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("wrong credentials took %s to fail", took)
	}
	t.Logf("wrong credentials: %s", stderr)
	if !strings.Contains(strings.ToLower(stderr), "authorization violation") || !strings.Contains(stderr, url) {
		t.Fatalf("unclear error for wrong credentials:\n%s", stderr)
	}
	if strings.Contains(stderr, "wrong") {
		t.Fatal("the wrong password is echoed in the error")
	}

	// No CA: the server's certificate is not trusted, said clearly.
	noCA := filepath.Join(work, "noca.yaml")
	os.WriteFile(noCA, []byte(fmt.Sprintf("nats:\n  url: %s\n  user: vakt\n  password_file: %s\nclickhouse:\n  listen: 127.0.0.1:0\nhttp:\n  listen: \"\"\n", url, pwFile)), 0o600)
	_, stderr, err = vakt(t, "import", "--config", noCA, "--data-dir", filepath.Join(work, "data3"), tl.path)
	t.Logf("untrusted certificate: %s", stderr)
	if err == nil || !strings.Contains(stderr, "certificate") {
		t.Fatalf("untrusted server certificate not reported clearly: %v\n%s", err, stderr)
	}
}
