package replay

import (
	"context"
	"crypto/tls"

	"github.com/surgekit/surge/scenarios/replay/internal/client"
)

// Protocols a target may be pinned to (Config.Protocol): the ALPN names.
const (
	ProtocolHTTP1 = client.ProtocolHTTP1
	ProtocolH2    = client.ProtocolH2
)

// SpeaksH2 says whether the load speaks HTTP/2 to target: an h2c:// one,
// or an https:// one pinned to h2 or whose ALPN picks it.
func SpeaksH2(ctx context.Context, target, protocol string, tlsConfig *tls.Config) bool {
	return client.SpeaksH2(ctx, target, protocol, tlsConfig)
}
