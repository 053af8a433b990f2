#!/usr/bin/env bash
# Runs a distributed run on Kubernetes, as surge k8s prints it.
#
#   bash ci/k8s-e2e.sh                      # on a control plane started here, on loopback
#   SURGE_IMAGE=registry.example/surge:e2e KUBECONFIG=~/.kube/config bash ci/k8s-e2e.sh
#
# Without KUBECONFIG (root): a real cluster started here, on loopback
# (ci/k8s): Debian's etcd; kube-apiserver, kube-controller-manager,
# kube-scheduler and a kubelet built from the k8s.io/kubernetes module by
# ci/k8s/build.sh into ~/.cache/surge-k8s (about 10 minutes the first time);
# the kubelet on Debian's containerd and runc with a CNI bridge, running the
# image ci/image builds. TestShardedRunOnARealControlPlane applies 4 shards
# of smoke.yaml with kubectl: the merge Job's GO, the merged run equal to an
# unsharded one, a killed shard failing the merge Job by name. It installs
# etcd, containerd, runc and the CNI plugins and builds the cluster first.
# About 3 minutes warm.
#
# With KUBECONFIG: on that cluster, in a namespace of its own (deleted at the
# end) it starts the reference server from the same image as the target,
# applies the manifests of scenarios/smoke.yaml in SURGE_SHARDS shards
# (default 4), waits for the merge Job and prints its log: the exit code is
# the merged run's verdict (0 GO, 2 NO-GO, 1 the run could not be done).
#
# The image: SURGE_IMAGE, a reference the cluster pulls. Without it, on a
# kind cluster, the script builds the image (go run ./ci/image) and loads it
# with kind load image-archive. To push one to a registry yourself:
#   go run ./ci/image -o surge.tar -tag registry.example/surge:e2e && crane push surge.tar registry.example/surge:e2e
# The results claim: SURGE_ACCESS_MODE (default ReadWriteOnce, which a
# one-node cluster such as kind serves; use ReadWriteMany where the shards
# land on many nodes) and SURGE_STORAGE_CLASS (default: the cluster's).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${KUBECONFIG:-}" ]; then
	bash ci/install-deb.sh etcd etcd-server
	bash ci/install-deb.sh containerd containerd
	bash ci/install-deb.sh runc runc
	bash ci/install-deb.sh /usr/lib/cni/bridge containernetworking-plugins
	bin=$(bash ci/k8s/build.sh)
	cd ci/k8s
	SURGE_K8S_BIN="$bin" exec go test -count=1 -v -timeout 15m -run TestShardedRunOnARealControlPlane .
fi
if ! kubectl cluster-info >/dev/null 2>&1; then
	echo "k8s-e2e: skipped: KUBECONFIG=$KUBECONFIG does not reach a cluster (kubectl cluster-info failed)"
	exit 0
fi

shards="${SURGE_SHARDS:-4}"
ns="surge-e2e-$(date +%s)"
image="${SURGE_IMAGE:-}"
if [ -z "$image" ]; then
	if ! command -v kind >/dev/null; then
		echo "k8s-e2e: give SURGE_IMAGE, an image of go run ./ci/image the cluster pulls (or use a kind cluster)" >&2
		exit 1
	fi
	image="surge:e2e"
	tar="$(mktemp -d)/surge.tar"
	go run ./ci/image -o "$tar" -tag "$image"
	kind load image-archive "$tar" --name "${KIND_CLUSTER_NAME:-kind}"
fi

token="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
cleanup() { kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1 || true; }
trap cleanup EXIT

kubectl create namespace "$ns" >/dev/null
kubectl -n "$ns" create secret generic pass-admin --from-literal=token="$token" >/dev/null
sed "s|IMAGE|$image|" ci/k8s/reference.yaml | kubectl -n "$ns" apply -f - >/dev/null
kubectl -n "$ns" rollout status deployment/reference --timeout=5m

name="e2e"
go run ./cmd/surge k8s scenarios/smoke.yaml --shards "$shards" --image "$image" --namespace "$ns" --name "$name" \
	--target "http://reference.$ns.svc:8080" --admin-token-secret pass-admin --metrics --start-in 90s \
	--access-mode "${SURGE_ACCESS_MODE:-ReadWriteOnce}" ${SURGE_STORAGE_CLASS:+--storage-class "$SURGE_STORAGE_CLASS"} |
	kubectl apply -f -

# The merge Job ends complete (GO) or failed (NO-GO, or the merge could
# not be done): wait for either, then say which.
for _ in $(seq 1 600); do
	done=$(kubectl -n "$ns" get job "$name-merge" -o jsonpath='{.status.succeeded}{.status.failed}')
	[ -n "$done" ] && break
	sleep 2
done
kubectl -n "$ns" get jobs
kubectl -n "$ns" logs "job/$name-merge" || true
code=$(kubectl -n "$ns" get pods -l "batch.kubernetes.io/job-name=$name-merge" \
	-o jsonpath='{.items[0].status.containerStatuses[0].state.terminated.exitCode}')
echo "k8s-e2e: the merge Job exited $code (0 GO, 2 NO-GO, 1 could not merge)"
exit "${code:-1}"
