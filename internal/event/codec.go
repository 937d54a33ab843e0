package event

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of event.proto. Never renumber: messages in flight and in
// the events stream must stay readable across versions.
const (
	batchRecord protowire.Number = 1

	rawTimeMicros   protowire.Number = 1
	rawSite         protowire.Number = 2
	rawClientIP     protowire.Number = 3
	rawForwardedFor protowire.Number = 4
	rawUser         protowire.Number = 5
	rawMethod       protowire.Number = 6
	rawTarget       protowire.Number = 7
	rawProtocol     protowire.Number = 8
	rawStatus       protowire.Number = 9
	rawBytes        protowire.Number = 10
	rawReferrer     protowire.Number = 11
	rawUserAgent    protowire.Number = 12
	rawHost         protowire.Number = 13
	rawRequestTime  protowire.Number = 14 // microseconds + 1; 0 (absent) is Unknown
	rawUpstreamTime protowire.Number = 15 // microseconds + 1

	evTimeMicros   protowire.Number = 1
	evSite         protowire.Number = 2
	evClientID     protowire.Number = 3
	evNetworkID    protowire.Number = 4
	evIPVersion    protowire.Number = 5
	evEpoch        protowire.Number = 6
	evCountry      protowire.Number = 7
	evASN          protowire.Number = 8
	evASOrg        protowire.Number = 9
	evMethod       protowire.Number = 10
	evPath         protowire.Number = 11
	evQuery        protowire.Number = 12
	evProtocol     protowire.Number = 13
	evStatus       protowire.Number = 14
	evBytes        protowire.Number = 15
	evReferrer     protowire.Number = 16
	evUserAgent    protowire.Number = 17
	evHost         protowire.Number = 18
	evRequestTime  protowire.Number = 19
	evUpstreamTime protowire.Number = 20
	evFlags        protowire.Number = 21
	evSignature    protowire.Number = 22
)

// ErrCorrupt reports a message that is not a valid batch.
var ErrCorrupt = errors.New("event: corrupt batch")

// AppendRaw appends r to a batch being built in b and returns the extended
// buffer. A batch is the concatenation of its records.
func AppendRaw(b []byte, r *Raw) []byte {
	var rec [512]byte
	m := rec[:0]
	m = appendVarint(m, rawTimeMicros, uint64(r.Time.UnixMicro()))
	m = appendString(m, rawSite, r.Site)
	if r.ClientIP.IsValid() {
		ip, _ := r.ClientIP.MarshalBinary()
		m = protowire.AppendTag(m, rawClientIP, protowire.BytesType)
		m = protowire.AppendBytes(m, ip)
	}
	m = appendString(m, rawForwardedFor, r.ForwardedFor)
	m = appendString(m, rawUser, r.User)
	m = appendString(m, rawMethod, r.Method)
	m = appendString(m, rawTarget, r.Target)
	m = appendString(m, rawProtocol, r.Protocol)
	m = appendVarint(m, rawStatus, uint64(r.Status))
	m = appendVarint(m, rawBytes, r.Bytes)
	m = appendString(m, rawReferrer, r.Referrer)
	m = appendString(m, rawUserAgent, r.UserAgent)
	m = appendString(m, rawHost, r.Host)
	m = appendDuration(m, rawRequestTime, r.RequestTime)
	m = appendDuration(m, rawUpstreamTime, r.UpstreamTime)
	b = protowire.AppendTag(b, batchRecord, protowire.BytesType)
	return protowire.AppendBytes(b, m)
}

// AppendEvent appends e to a batch being built in b.
func AppendEvent(b []byte, e *Event) []byte {
	var rec [512]byte
	m := rec[:0]
	m = appendVarint(m, evTimeMicros, uint64(e.Time.UnixMicro()))
	m = appendString(m, evSite, e.Site)
	m = protowire.AppendTag(m, evClientID, protowire.Fixed64Type)
	m = protowire.AppendFixed64(m, e.ClientID)
	m = protowire.AppendTag(m, evNetworkID, protowire.Fixed64Type)
	m = protowire.AppendFixed64(m, e.NetworkID)
	m = appendVarint(m, evIPVersion, uint64(e.IPVersion))
	m = appendVarint(m, evEpoch, uint64(e.Epoch))
	m = appendString(m, evCountry, e.Country)
	m = appendVarint(m, evASN, uint64(e.ASN))
	m = appendString(m, evASOrg, e.ASOrg)
	m = appendString(m, evMethod, e.Method)
	m = appendString(m, evPath, e.Path)
	m = appendString(m, evQuery, e.Query)
	m = appendString(m, evProtocol, e.Protocol)
	m = appendVarint(m, evStatus, uint64(e.Status))
	m = appendVarint(m, evBytes, e.Bytes)
	m = appendString(m, evReferrer, e.Referrer)
	m = appendString(m, evUserAgent, e.UserAgent)
	m = appendString(m, evHost, e.Host)
	m = appendDuration(m, evRequestTime, e.RequestTime)
	m = appendDuration(m, evUpstreamTime, e.UpstreamTime)
	m = appendVarint(m, evFlags, uint64(e.Flags))
	m = appendString(m, evSignature, e.Signature)
	b = protowire.AppendTag(b, batchRecord, protowire.BytesType)
	return protowire.AppendBytes(b, m)
}

// RangeRaw decodes each record of a raw batch into r and calls fn. r is
// reused between calls; strings are copies, safe to keep.
func RangeRaw(batch []byte, fn func(*Raw) error) error {
	var r Raw
	return rangeRecords(batch, func(rec []byte) error {
		r = Raw{RequestTime: Unknown, UpstreamTime: Unknown}
		if err := decodeRaw(rec, &r); err != nil {
			return err
		}
		return fn(&r)
	})
}

// RangeEvents decodes each record of an event batch into e and calls fn.
func RangeEvents(batch []byte, fn func(*Event) error) error {
	var e Event
	return rangeRecords(batch, func(rec []byte) error {
		e = Event{RequestTime: Unknown, UpstreamTime: Unknown}
		if err := decodeEvent(rec, &e); err != nil {
			return err
		}
		return fn(&e)
	})
}

// Count returns the number of records in a batch without decoding them.
func Count(batch []byte) (int, error) {
	n := 0
	err := rangeRecords(batch, func([]byte) error { n++; return nil })
	return n, err
}

func rangeRecords(batch []byte, fn func([]byte) error) error {
	for len(batch) > 0 {
		num, typ, n := protowire.ConsumeTag(batch)
		if n < 0 || num != batchRecord || typ != protowire.BytesType {
			return ErrCorrupt
		}
		batch = batch[n:]
		rec, n := protowire.ConsumeBytes(batch)
		if n < 0 {
			return ErrCorrupt
		}
		batch = batch[n:]
		if err := fn(rec); err != nil {
			return err
		}
	}
	return nil
}

func decodeRaw(rec []byte, r *Raw) error {
	return rangeFields(rec, func(num protowire.Number, v uint64, s []byte) error {
		switch num {
		case rawTimeMicros:
			r.Time = time.UnixMicro(int64(v)).UTC()
		case rawSite:
			r.Site = string(s)
		case rawClientIP:
			ip, ok := netip.AddrFromSlice(s)
			if !ok {
				return fmt.Errorf("%w: client ip of %d bytes", ErrCorrupt, len(s))
			}
			r.ClientIP = ip
		case rawForwardedFor:
			r.ForwardedFor = string(s)
		case rawUser:
			r.User = string(s)
		case rawMethod:
			r.Method = string(s)
		case rawTarget:
			r.Target = string(s)
		case rawProtocol:
			r.Protocol = string(s)
		case rawStatus:
			r.Status = uint16(v)
		case rawBytes:
			r.Bytes = v
		case rawReferrer:
			r.Referrer = string(s)
		case rawUserAgent:
			r.UserAgent = string(s)
		case rawHost:
			r.Host = string(s)
		case rawRequestTime:
			r.RequestTime = fromWireDuration(v)
		case rawUpstreamTime:
			r.UpstreamTime = fromWireDuration(v)
		}
		return nil
	})
}

func decodeEvent(rec []byte, e *Event) error {
	return rangeFields(rec, func(num protowire.Number, v uint64, s []byte) error {
		switch num {
		case evTimeMicros:
			e.Time = time.UnixMicro(int64(v)).UTC()
		case evSite:
			e.Site = string(s)
		case evClientID:
			e.ClientID = v
		case evNetworkID:
			e.NetworkID = v
		case evIPVersion:
			e.IPVersion = uint8(v)
		case evEpoch:
			e.Epoch = uint32(v)
		case evCountry:
			e.Country = string(s)
		case evASN:
			e.ASN = uint32(v)
		case evASOrg:
			e.ASOrg = string(s)
		case evMethod:
			e.Method = string(s)
		case evPath:
			e.Path = string(s)
		case evQuery:
			e.Query = string(s)
		case evProtocol:
			e.Protocol = string(s)
		case evStatus:
			e.Status = uint16(v)
		case evBytes:
			e.Bytes = v
		case evReferrer:
			e.Referrer = string(s)
		case evUserAgent:
			e.UserAgent = string(s)
		case evHost:
			e.Host = string(s)
		case evRequestTime:
			e.RequestTime = fromWireDuration(v)
		case evUpstreamTime:
			e.UpstreamTime = fromWireDuration(v)
		case evFlags:
			e.Flags = Flags(v)
		case evSignature:
			e.Signature = string(s)
		}
		return nil
	})
}

// rangeFields walks one record; unknown fields are skipped so that newer
// producers stay readable by older consumers.
func rangeFields(rec []byte, fn func(protowire.Number, uint64, []byte) error) error {
	for len(rec) > 0 {
		num, typ, n := protowire.ConsumeTag(rec)
		if n < 0 {
			return ErrCorrupt
		}
		rec = rec[n:]
		var v uint64
		var s []byte
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(rec)
		case protowire.Fixed64Type:
			v, n = protowire.ConsumeFixed64(rec)
		case protowire.BytesType:
			s, n = protowire.ConsumeBytes(rec)
		default:
			n = protowire.ConsumeFieldValue(num, typ, rec)
		}
		if n < 0 {
			return ErrCorrupt
		}
		rec = rec[n:]
		if err := fn(num, v, s); err != nil {
			return err
		}
	}
	return nil
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// appendDuration stores microseconds+1 so that an absent field means Unknown
// and a measured zero survives.
func appendDuration(b []byte, num protowire.Number, d time.Duration) []byte {
	if d < 0 {
		return b
	}
	return appendVarint(b, num, uint64(d/time.Microsecond)+1)
}

func fromWireDuration(v uint64) time.Duration {
	if v == 0 {
		return Unknown
	}
	return time.Duration(v-1) * time.Microsecond
}
