//go:build tools

// kwok, the node simulator, pinned by this module's go.mod (tests/tools.py builds it).
package tools

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
