// Pins the upstream command this module builds (src/stack/binaries.ts runs go build on it).
//go:build tools

package tools

import _ "github.com/livekit/sip/cmd/livekit-sip"
