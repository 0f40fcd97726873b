//go:build tools

// The etcd server binary, pinned by this module's go.mod (tests/tools.py builds it).
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
