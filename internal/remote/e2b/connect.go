package e2b

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Connect streaming envelope flags. A data envelope has flag 0; the last envelope of a
// response stream carries flagEndStream and a JSON object that may hold an error.
const (
	flagCompressed byte = 0x01
	flagEndStream  byte = 0x02
)

// maxEnvelopeBytes bounds one envelope so that a broken or hostile peer cannot make the
// client allocate without limit. Process output chunks are far smaller in practice.
const maxEnvelopeBytes = 16 << 20

// Envelope is one frame of a Connect stream: a flag byte, a 4-byte big-endian length and
// the JSON message.
type Envelope struct {
	Flags   byte
	Payload []byte
}

// EndStream reports whether this is the trailing end-of-stream envelope.
func (e Envelope) EndStream() bool { return e.Flags&flagEndStream != 0 }

// WriteEnvelope writes one frame holding payload.
func WriteEnvelope(w io.Writer, flags byte, payload []byte) error {
	header := make([]byte, 5, 5+len(payload))
	header[0] = flags
	binary.BigEndian.PutUint32(header[1:], uint32(len(payload)))
	_, err := w.Write(append(header, payload...))
	return err
}

// ReadEnvelope reads one frame. It returns io.EOF only when the stream ends cleanly
// between frames; a stream cut inside a frame is io.ErrUnexpectedEOF.
func ReadEnvelope(r io.Reader) (Envelope, error) {
	var header [5]byte
	if _, err := io.ReadFull(r, header[:]); err != nil {
		return Envelope{}, err
	}
	size := binary.BigEndian.Uint32(header[1:])
	if size > maxEnvelopeBytes {
		return Envelope{}, fmt.Errorf("connect envelope of %d bytes exceeds the %d byte limit",
			size, maxEnvelopeBytes)
	}
	if header[0]&flagCompressed != 0 {
		return Envelope{}, errors.New("connect envelope is compressed; no compression was asked for")
	}
	payload := make([]byte, size)
	if _, err := io.ReadFull(r, payload); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return Envelope{}, err
	}
	return Envelope{Flags: header[0], Payload: payload}, nil
}

// RPCError is an error reported by envd: the Connect code ("not_found", "unavailable", …)
// and its message. The message comes from the sandbox and is redacted before display.
type RPCError struct {
	HTTPStatus int    `json:"-"`
	Code       string `json:"code"`
	Message    string `json:"message"`
}

// Error says the Connect code and envd's message.
func (e *RPCError) Error() string {
	if e.Message == "" {
		return "envd error: " + e.Code
	}
	return fmt.Sprintf("envd error %s: %s", e.Code, e.Message)
}

// endStreamError decodes the JSON of an end-stream envelope; nil means a clean end.
func endStreamError(payload []byte) error {
	if len(payload) == 0 {
		return nil
	}
	var end struct {
		Error *RPCError `json:"error"`
	}
	if err := json.Unmarshal(payload, &end); err != nil {
		return fmt.Errorf("decode end of stream: %w", err)
	}
	if end.Error != nil {
		return end.Error
	}
	return nil
}
