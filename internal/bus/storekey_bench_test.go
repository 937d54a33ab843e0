package bus

import (
	"context"
	"fmt"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// BenchmarkStorePublish measures what encryption at rest costs a JetStream
// file-store publish of a pipeline-sized batch (16 KiB), acknowledged one
// by one, in the clear and with each cipher (BENCHMARKS.md).
func BenchmarkStorePublish(b *testing.B) {
	for _, c := range []struct {
		name   string
		key    string
		cipher server.StoreCipher
	}{{"plain", "", server.NoCipher}, {"aes", "k", server.AES}, {"chacha", "k", server.ChaCha}} {
		b.Run(c.name, func(b *testing.B) {
			opts := &server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: b.TempDir(), NoSigs: true, NoLog: true,
				DontListen: true, JetStreamKey: c.key, JetStreamCipher: c.cipher}
			srv, err := server.NewServer(opts)
			if err != nil {
				b.Fatal(err)
			}
			go srv.Start()
			srv.ReadyForConnections(10e9)
			defer srv.Shutdown()
			nc, err := nats.Connect("", nats.InProcessServer(srv))
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			js, _ := jetstream.New(nc)
			ctx := context.Background()
			if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "B", Subjects: []string{"b.>"}, Storage: jetstream.FileStorage}); err != nil {
				b.Fatal(err)
			}
			msg := make([]byte, 16<<10)
			for i := range msg {
				msg[i] = byte('a' + i%26)
			}
			b.SetBytes(int64(len(msg)))
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if _, err := js.Publish(ctx, fmt.Sprintf("b.%d", i%8), msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
