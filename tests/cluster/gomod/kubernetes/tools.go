//go:build tools

// kube-apiserver, kube-controller-manager and kube-scheduler, pinned by this module's go.mod
// (every staging module replaced by its matching v0.X.Y; tests/tools.py builds them).

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
