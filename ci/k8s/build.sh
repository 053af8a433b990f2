#!/usr/bin/env bash
# ci/k8s/build.sh: builds kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl and the kubelet from the k8s.io/kubernetes module (this
# directory's go.mod: a module of its own, so the product's go.mod does not
# grow; each k8s.io staging module replaced by its v0.34.2) into a cache
# outside the clone, once: $SURGE_K8S_CACHE, default
# ~/.cache/surge-k8s/v1.34.2. Prints the cache's bin directory.
#
# Cold on this 2-core machine: about 10 minutes (kube-apiserver alone 6);
# warm (the binaries there): nothing to do.
set -euo pipefail
cd "$(dirname "$0")"
cache="${SURGE_K8S_CACHE:-$HOME/.cache/surge-k8s/v1.34.2}"
mkdir -p "$cache/bin"
for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet; do
	if [ -x "$cache/bin/$cmd" ]; then
		continue
	fi
	start=$(date +%s)
	go build -o "$cache/bin/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd"
	mv "$cache/bin/$cmd.tmp" "$cache/bin/$cmd"
	echo "built $cmd in $(( $(date +%s) - start )) s" >&2
done
echo "$cache/bin"
