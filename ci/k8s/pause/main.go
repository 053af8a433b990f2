// Command pause is the pod sandbox's process for the e2e's kubelet: it
// holds the pod's namespaces until it is told to stop, as the pause image
// of registry.k8s.io does (which this machine cannot pull). Built static
// and packed as an image by the e2e (ci/k8s/kubelet_test.go).
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
