package ingest

import "testing"

// TestFingerprintCarriesNoIP: the generation id, kept at rest in
// checkpoints and message ids, does not depend on the client address.
func TestFingerprintCarriesNoIP(t *testing.T) {
	line := func(ip string) []byte {
		return []byte(ip + ` - - [10/Oct/2025:13:55:36 +0000] "GET /a HTTP/1.1" 200 1 "-" "curl"` + "\n")
	}
	g1, n1, ok1 := fingerprintOf(line("192.0.2.1"))
	g2, _, ok2 := fingerprintOf(line("198.51.100.77"))
	g3, _, _ := fingerprintOf(line("2001:db8::5"))
	g4, _, _ := fingerprintOf(line("2a01:4f8:c0c:1234::1"))
	if !ok1 || !ok2 || g1 != g2 || g3 != g4 || n1 != len(line("192.0.2.1")) {
		t.Fatalf("ids %s %s %s %s", g1, g2, g3, g4)
	}
	other, _, _ := fingerprintOf([]byte(`192.0.2.1 - - [10/Oct/2025:13:55:37 +0000] "GET /a HTTP/1.1" 200 1 "-" "curl"` + "\n"))
	if other == g1 {
		t.Fatal("different lines, same id")
	}
	if _, _, ok := fingerprintOf([]byte("short line\n")); ok {
		t.Fatal("a short first line names the file")
	}
}
