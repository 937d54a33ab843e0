package pseudonymize

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/dchest/siphash"
)

// SaltSize is the size of an epoch's salt: two 128-bit SipHash keys, one for
// client ids and one for network ids.
const SaltSize = 32

// Domain-separation bytes: a client id input can never equal a network id
// input, even for the same address.
const (
	domainClient  = 'C'
	domainNetwork = 'N'
)

// Network prefix lengths the network id is computed over: the customary
// allocation to one customer or site.
const (
	networkBitsV4 = 24
	networkBitsV6 = 48
)

// Keys are the PRF keys derived from one epoch's salt.
//
// Ids are SipHash-2-4, a keyed PRF, rather than a plain hash: an unkeyed hash
// of an IPv4 address is worthless as a pseudonym, because all 2^32 addresses
// hash in about a second on one GPU and the table inverts every id. Under a
// secret 128-bit key nobody can compute any id without the salt, and once the
// salt is destroyed nobody, the operator included, can link an id to an IP.
//
// Ids are 64 bits. With n distinct clients in an epoch the expected number of
// colliding pairs is about n²/2^65: for n = 100M that is 1e16/3.7e19 ≈ 2.7e-4
// per epoch, one collision every ~10 years of daily epochs at that scale, and
// a collision only merges two clients' activity for one day. A 64-bit id also
// fits ClickHouse's UInt64 and sorts and groups fast.
//
// Keys never print their key material: every fmt verb and slog show only the
// epoch (value receivers, so a dereferenced copy is covered too).
type Keys struct {
	epoch  uint32
	rev    uint64 // KV revision the salt was read at, to notice replacement
	seal   string // saltSeal of the salt, to tell a replacement from a rewrite
	c0, c1 uint64 // client id key, salt[0:16]
	n0, n1 uint64 // network id key, salt[16:32]
}

// newKeys derives the keys of epoch from salt, which must be SaltSize bytes.
func newKeys(epoch uint32, salt []byte) (*Keys, error) {
	if len(salt) != SaltSize {
		// The length is safe to report; the bytes never are.
		return nil, fmt.Errorf("salt of epoch %d has %d bytes, want %d", epoch, len(salt), SaltSize)
	}
	return &Keys{
		epoch: epoch,
		seal:  saltSeal(salt),
		c0:    binary.LittleEndian.Uint64(salt[0:8]),
		c1:    binary.LittleEndian.Uint64(salt[8:16]),
		n0:    binary.LittleEndian.Uint64(salt[16:24]),
		n1:    binary.LittleEndian.Uint64(salt[24:32]),
	}, nil
}

// Epoch is the salt epoch the keys belong to.
func (k *Keys) Epoch() uint32 { return k.epoch }

// ClientID is the pseudonym of ip in this epoch. IPv4-mapped IPv6 addresses
// are the same client as their IPv4 form. An invalid address gives 0.
func (k *Keys) ClientID(ip netip.Addr) uint64 {
	if !ip.IsValid() {
		return 0
	}
	var in [17]byte
	in[0] = domainClient
	a := ip.Unmap().As16()
	copy(in[1:], a[:])
	return siphash.Hash(k.c0, k.c1, in[:])
}

// NetworkID is the pseudonym of ip's /24 (IPv4) or /48 (IPv6) network in this
// epoch, so that a scanner hopping addresses in one network stays visible.
// An invalid address gives 0.
func (k *Keys) NetworkID(ip netip.Addr) uint64 {
	if !ip.IsValid() {
		return 0
	}
	ip = ip.Unmap()
	bits := networkBitsV6
	if ip.Is4() {
		bits = networkBitsV4
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return 0
	}
	var in [18]byte
	in[0] = domainNetwork
	in[1] = byte(bits)
	a := p.Addr().As16()
	copy(in[2:], a[:])
	return siphash.Hash(k.n0, k.n1, in[:])
}

// String never reveals the key material.
func (k Keys) String() string { return fmt.Sprintf("Keys{epoch: %d, salt: redacted}", k.epoch) }

// GoString never reveals the key material.
func (k Keys) GoString() string { return k.String() }

// Format makes every verb, %d and %x included, print the redacted form.
func (k Keys) Format(f fmt.State, _ rune) { _, _ = fmt.Fprint(f, k.String()) }

// LogValue keeps the key material out of structured logs.
func (k Keys) LogValue() slog.Value {
	return slog.GroupValue(slog.Any("epoch", k.epoch), slog.String("salt", "redacted"))
}
