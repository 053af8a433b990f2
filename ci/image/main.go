// Command image builds the container image of surge's shards (surge k8s)
// with no network and no container engine: static surge and
// reference-server binaries (built here, CGO off; the reference server is
// there to try a distributed run on the reference system, as
// ci/k8s-e2e.sh does), the CA roots of this machine, and a non-root user,
// on an empty base, written as an image tarball that podman load and docker
// load read (and crane push sends to a registry).
//
//	go run ./ci/image -o surge-image.tar [-tag surge:dev] [-arch amd64]
//
// The image is reproducible: every file and the config carry a fixed time,
// so the same binary gives the same digest.
package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// User is the image's user: not root, the uid surge k8s's pods run as.
const User = "65532:65532"

// caFiles are where Debian, Alpine and Fedora keep the CA roots; the first
// that exists goes into the image at the Debian path, where Go looks first.
var caFiles = []string{"/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/cert.pem", "/etc/pki/tls/certs/ca-bundle.crt"}

func main() {
	out := flag.String("o", "surge-image.tar", "the image tarball to write")
	tag := flag.String("tag", "surge:dev", "the image's name in the tarball")
	arch := flag.String("arch", "amd64", "the binary's GOARCH")
	root := flag.String("root", ".", "the module's root (where cmd/surge is)")
	flag.Parse()
	if err := build(*root, *out, *tag, *arch); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

// build builds surge from the module at root and writes its image to out.
func build(root, out, tag, arch string) error {
	ref, err := name.NewTag(tag)
	if err != nil {
		return fmt.Errorf("-tag %s: %w", tag, err)
	}
	dir, err := os.MkdirTemp("", "surge-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", dir+"/", "./cmd/surge", "./reference-server")
	cmd.Dir, cmd.Env = root, append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/surge ./reference-server: %w", err)
	}
	img, err := Image(dir, arch)
	if err != nil {
		return err
	}
	return tarball.WriteToFile(out, ref, img)
}

// Image is the image of the binaries in bin: /surge as its entrypoint,
// /reference-server, the CA roots, /etc/passwd naming the user.
func Image(bin, arch string) (v1.Image, error) {
	surge, err := os.ReadFile(filepath.Join(bin, "surge"))
	if err != nil {
		return nil, err
	}
	ref, err := os.ReadFile(filepath.Join(bin, "reference-server"))
	if err != nil {
		return nil, err
	}
	var roots []byte
	for _, f := range caFiles {
		if roots, err = os.ReadFile(f); err == nil {
			break
		}
	}
	if roots == nil {
		return nil, errors.New("no CA roots on this machine (install ca-certificates): an image without them cannot reach an https target")
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(files(surge, ref, roots))), nil
	})
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = arch, "linux"
	cf.Created = v1.Time{Time: epoch}
	cf.Config.Entrypoint = []string{"/surge"}
	cf.Config.Cmd = []string{"--help"}
	cf.Config.User = User
	cf.Config.WorkingDir = "/results"
	cf.Config.Labels = map[string]string{
		"org.opencontainers.image.title":       "surge",
		"org.opencontainers.image.description": "surge's load generator: a shard of a distributed run (surge k8s)",
	}
	return mutate.ConfigFile(img, cf)
}

// epoch is every file's and the config's time: the image is reproducible.
var epoch = time.Unix(0, 0).UTC()

// files is the layer: the binaries, the CA roots, the user, and the
// directories the pods mount over.
func files(surge, ref, roots []byte) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	dir := func(path string, mode int64) {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: path + "/", Mode: mode, ModTime: epoch})
	}
	file := func(path string, mode int64, data []byte) {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: path, Mode: mode, Size: int64(len(data)), ModTime: epoch})
		tw.Write(data)
	}
	for _, d := range []string{"etc", "etc/ssl", "etc/ssl/certs", "scenario"} {
		dir(d, 0o755)
	}
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "results/", Mode: 0o775, Uid: 65532, Gid: 65532, ModTime: epoch})
	file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:surge:/results:/sbin/nologin\n"))
	file("etc/group", 0o644, []byte("root:x:0:\nnonroot:x:65532:\n"))
	file("etc/ssl/certs/ca-certificates.crt", 0o644, roots)
	file("surge", 0o755, surge)
	file("reference-server", 0o755, ref)
	tw.Close()
	return b.Bytes()
}
