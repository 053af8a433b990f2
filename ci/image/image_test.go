package main

import (
	"archive/tar"
	"bytes"
	"crypto/x509"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// The image surge k8s's pods run: built with no network and no engine,
// read back as an image, its files what a shard needs (a static binary,
// CA roots that parse, a non-root user), loaded by podman where it is
// installed, and run as its config says.
func TestImageIsSmallStaticNonRootAndRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds surge and its image")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "surge.tar")
	if err := build("../..", out, "surge:test", runtime.GOARCH); err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != User || strings.Join(cf.Config.Entrypoint, " ") != "/surge" || cf.OS != "linux" {
		t.Errorf("config: user %q, entrypoint %v, os %s", cf.Config.User, cf.Config.Entrypoint, cf.OS)
	}
	size, err := imageSize(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("image: %.1f MB compressed", float64(size)/1e6)
	if size > 40<<20 {
		t.Errorf("the image is %d bytes compressed, want a small one (a static binary and CA roots)", size)
	}
	root := filepath.Join(dir, "rootfs")
	if err := extract(img, root); err != nil {
		t.Fatal(err)
	}
	checkRootfs(t, root)
	runImage(t, out, root)
}

func imageSize(img v1.Image) (int64, error) {
	layers, err := img.Layers()
	if err != nil {
		return 0, err
	}
	var n int64
	for _, l := range layers {
		s, err := l.Size()
		if err != nil {
			return 0, err
		}
		n += s
	}
	return n, nil
}

// extract writes the image's flattened filesystem under root.
func extract(img v1.Image, root string) error {
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		path := filepath.Join(root, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(path, os.FileMode(h.Mode)); err != nil {
				return err
			}
			os.Chown(path, h.Uid, h.Gid)
		case tar.TypeReg:
			data, err := io.ReadAll(tr)
			if err != nil {
				return err
			}
			if err := os.WriteFile(path, data, os.FileMode(h.Mode)); err != nil {
				return err
			}
		}
	}
}

func checkRootfs(t *testing.T, root string) {
	t.Helper()
	for _, bin := range []string{"surge", "reference-server"} {
		f, err := elf.Open(filepath.Join(root, bin))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("/%s is dynamically linked: it needs a loader the image does not have", bin)
			}
		}
		f.Close()
	}
	pem, err := os.ReadFile(filepath.Join(root, "etc/ssl/certs/ca-certificates.crt"))
	if err != nil || !x509.NewCertPool().AppendCertsFromPEM(pem) {
		t.Errorf("the image's CA roots do not parse (%v)", err)
	}
	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if !bytes.Contains(passwd, []byte(":65532:65532:")) {
		t.Errorf("/etc/passwd does not name the user: %s", passwd)
	}
}

// runImage loads the image with podman where it is installed and runs it
// as its config says: with podman where the machine lets its runtime run,
// else (root) its root filesystem with the config's entrypoint and user in
// new mount and network namespaces (unshare).
func runImage(t *testing.T, tarPath, root string) {
	scenario, err := os.ReadFile("../../scenarios/smoke.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if podman, err := exec.LookPath("podman"); err == nil {
		if out, err := exec.Command(podman, "load", "-i", tarPath).CombinedOutput(); err != nil {
			t.Fatalf("podman load: %v\n%s", err, out)
		}
		t.Cleanup(func() { exec.Command(podman, "rmi", "-f", "localhost/surge:test").Run() })
		insp, err := exec.Command(podman, "image", "inspect", "--format", "{{.Config.User}} {{.Config.Entrypoint}}", "localhost/surge:test").Output()
		if err != nil || strings.TrimSpace(string(insp)) != User+" [/surge]" {
			t.Errorf("podman sees user and entrypoint %q (%v)", insp, err)
		}
		sdir := t.TempDir()
		os.WriteFile(filepath.Join(sdir, "smoke.yaml"), scenario, 0o644)
		out, err := exec.Command(podman, "run", "--rm", "--network", "none", "--read-only", "-v", sdir+":/scenario:ro",
			"localhost/surge:test", "validate", "/scenario/smoke.yaml").CombinedOutput()
		if err == nil {
			checkValidated(t, "podman run", out)
			return
		}
		if !strings.Contains(string(out), "OCI permission denied") {
			t.Fatalf("podman run: %v\n%s", err, out)
		}
		t.Logf("podman's runtime cannot run containers on this machine (%s): running the image's filesystem with unshare", bytes.TrimSpace(out))
	} else if os.Getenv("SURGE_REQUIRE_PODMAN") != "" {
		t.Fatal("SURGE_REQUIRE_PODMAN is set and podman is not installed (bash ci/install-podman.sh)")
	}
	if os.Geteuid() != 0 {
		t.Skip("neither podman nor root (for unshare): the image was built and checked, not run")
	}
	os.WriteFile(filepath.Join(root, "scenario", "smoke.yaml"), scenario, 0o644)
	uid, gid, _ := strings.Cut(User, ":")
	out, err := exec.Command("unshare", "--mount", "--net", "--pid", "--fork", "--root", root, "--setuid", uid, "--setgid", gid,
		"/surge", "validate", "/scenario/smoke.yaml").CombinedOutput()
	if err != nil {
		t.Fatalf("the image's entrypoint as its user: %v\n%s", err, out)
	}
	checkValidated(t, "unshare", out)
}

func checkValidated(t *testing.T, how string, out []byte) {
	t.Helper()
	if !bytes.Contains(out, []byte("smoke.yaml: ok")) {
		t.Errorf("%s: surge validate in the image said:\n%s", how, out)
	}
}
