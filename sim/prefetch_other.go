//go:build !amd64

package sim

func prefetch(uintptr) {}

func prefetch4(uintptr) {}
