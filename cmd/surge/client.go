package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"path/filepath"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/replay"
	"github.com/surgekit/surge/scenarios/rpc"
	"github.com/surgekit/surge/scenarios/spec"
)

// clientSetup reads what a replay of s needs besides the scenario: its
// data files and multipart files, and its client certificate and CA
// (target.tls), all relative to the scenario file; it sets them in cfg.
func clientSetup(s *scenarios.Scenario, scenarioPath string, cfg *replay.Config) error {
	dir := filepath.Dir(scenarioPath)
	data, err := s.LoadData(dir)
	if err != nil {
		return err
	}
	cfg.Data = data
	cfg.Protocol = s.Target.Protocol
	if cfg.Methods, err = protoMethods(s, scenarioPath); err != nil {
		return err
	}
	t := s.Target.TLS
	if t == nil {
		return nil
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.Cert != "" {
		pair, err := keyPair(dir, t.Cert, t.Key)
		if err != nil {
			return fmt.Errorf("%s: target.tls: the client certificate: %w", scenarioPath, err)
		}
		conf.Certificates = []tls.Certificate{pair}
	}
	if t.CA != "" {
		pem, err := spec.ReadFileIn(dir, t.CA, 16<<20)
		if err != nil {
			return fmt.Errorf("%s: target.tls.ca: %w", scenarioPath, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%s: target.tls.ca: %s holds no PEM certificate", scenarioPath, t.CA)
		}
		conf.RootCAs = pool
	}
	cfg.TLS = conf
	return nil
}

// keyPair reads a certificate and its key as the scenario names them
// (spec.ReadFileIn: absolute, or within the scenario's folder).
func keyPair(dir, cert, key string) (tls.Certificate, error) {
	c, err := spec.ReadFileIn(dir, cert, 16<<20)
	if err != nil {
		return tls.Certificate{}, err
	}
	k, err := spec.ReadFileIn(dir, key, 16<<20)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(c, k)
}

// protoMethods compiles the scenario's .proto files (target.protos) and
// binds its gRPC calls to their methods, so a method the files lack or a
// message field that does not exist is an error at its line before any
// load. With no .proto files, nil: the run asks the server's reflection.
func protoMethods(s *scenarios.Scenario, scenarioPath string) (*rpc.Methods, error) {
	if len(s.Target.Protos) == 0 {
		return nil, nil
	}
	m, err := rpc.Compile(context.Background(), filepath.Dir(scenarioPath), s.Target.Protos)
	if err != nil {
		return nil, fmt.Errorf("%s: target.protos: %w", scenarioPath, err)
	}
	if _, err := rpc.Bind(s, m); err != nil {
		return nil, err
	}
	return m, nil
}
