package password

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

// TestRFC7677 checks the derivation and the proof primitives against the
// worked example of RFC 7677 §3 (user "user", password "pencil").
func TestRFC7677(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	v, err := deriveVerifier("pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	const (
		clientFirstBare = "n=user,r=rOprNGfwEbeRWgbNEkqO"
		serverFirst     = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
		clientFinalBare = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
		proofB64        = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
		serverSigB64    = "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
	)
	auth := []byte(clientFirstBare + "," + serverFirst + "," + clientFinalBare)
	proof, _ := base64.StdEncoding.DecodeString(proofB64)
	if !v.VerifyClientProof(auth, proof) {
		t.Fatal("RFC 7677 proof rejected")
	}
	bad := append([]byte(nil), proof...)
	bad[0] ^= 1
	if v.VerifyClientProof(auth, bad) {
		t.Fatal("altered proof accepted")
	}
	if v.VerifyClientProof(auth, proof[:10]) {
		t.Fatal("short proof accepted")
	}
	if got := base64.StdEncoding.EncodeToString(v.ServerSignature(auth)); got != serverSigB64 {
		t.Fatalf("server signature %s, want %s", got, serverSigB64)
	}
	// The text form round-trips through the parser.
	p, err := ParseSCRAMVerifier(v.String())
	if err != nil {
		t.Fatal(err)
	}
	if p.Iterations != 4096 || !bytes.Equal(p.Salt, salt) || !bytes.Equal(p.StoredKey, v.StoredKey) || !bytes.Equal(p.ServerKey, v.ServerKey) {
		t.Fatalf("round trip changed the verifier: %+v", p)
	}
	if !p.Matches("pencil") || p.Matches("pencil ") || p.Matches("") {
		t.Fatal("Matches disagrees with the RFC password")
	}
}

func TestNewVerifier(t *testing.T) {
	a, err := NewSCRAMVerifier("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSCRAMVerifier("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatal("two verifiers of one password are equal: the salt is not random")
	}
	for _, s := range []string{a, b} {
		if strings.Contains(s, "s3cret") {
			t.Fatalf("verifier %q contains the password", s)
		}
		if !strings.HasPrefix(s, "SCRAM-SHA-256$10610:") {
			t.Fatalf("verifier %q: want CockroachDB's default cost", s)
		}
		v, err := ParseSCRAMVerifier(s)
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Salt) != saltLen {
			t.Fatalf("salt of %d bytes", len(v.Salt))
		}
		if !v.Matches("s3cret") {
			t.Fatal("verifier does not match its password")
		}
		if v.Matches("s3cre") || v.Matches("S3cret") {
			t.Fatal("verifier matches another password")
		}
		if !IsSCRAMVerifier(s) {
			t.Fatal("IsSCRAMVerifier rejects a verifier")
		}
	}
	// Non-ASCII passwords are normalized the same way on both sides.
	u, err := NewSCRAMVerifier("pässwörd")
	if err != nil {
		t.Fatal(err)
	}
	v, _ := ParseSCRAMVerifier(u)
	if !v.Matches("pässwörd") || v.Matches("passwort") {
		t.Fatal("non-ASCII password")
	}
}

func TestParseMalformed(t *testing.T) {
	good, err := NewSCRAMVerifier("x")
	if err != nil {
		t.Fatal(err)
	}
	key := base64.StdEncoding.EncodeToString(make([]byte, 32))
	for _, s := range []string{
		"",
		"hunter2",
		"md5abcdef",
		"SCRAM-SHA-256$",
		"SCRAM-SHA-256$4096:c2FsdA==",
		"SCRAM-SHA-256$4096:c2FsdA==$" + key,
		"SCRAM-SHA-256$0:c2FsdA==$" + key + ":" + key,
		"SCRAM-SHA-256$-1:c2FsdA==$" + key + ":" + key,
		"SCRAM-SHA-256$99999999999:c2FsdA==$" + key + ":" + key,
		"SCRAM-SHA-256$4096:$" + key + ":" + key,
		"SCRAM-SHA-256$4096:!!$" + key + ":" + key,
		"SCRAM-SHA-256$4096:c2FsdA==$c2hvcnQ=:" + key,
		"SCRAM-SHA-256$4096:c2FsdA==$" + key + ":c2hvcnQ=",
		"SCRAM-SHA-1$4096:c2FsdA==$" + key + ":" + key,
		good[:len(good)-2],
	} {
		_, err := ParseSCRAMVerifier(s)
		if err == nil {
			t.Errorf("%q parsed", s)
			continue
		}
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error %q quotes its input", err)
		}
		if IsSCRAMVerifier(s) {
			t.Errorf("IsSCRAMVerifier(%q)", s)
		}
	}
}

func FuzzParseSCRAMVerifier(f *testing.F) {
	good, err := NewSCRAMVerifier("x")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add("SCRAM-SHA-256$1:AA==$AA==:AA==")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseSCRAMVerifier(s)
		if err != nil {
			return
		}
		// Whatever parses prints back to something that parses to the same
		// verifier.
		w, err := ParseSCRAMVerifier(v.String())
		if err != nil {
			t.Fatalf("%q printed as %q, which does not parse: %v", s, v.String(), err)
		}
		if w.String() != v.String() {
			t.Fatalf("unstable: %q vs %q", w.String(), v.String())
		}
	})
}

func BenchmarkMatches(b *testing.B) {
	s, err := NewSCRAMVerifier("s3cret")
	if err != nil {
		b.Fatal(err)
	}
	v, _ := ParseSCRAMVerifier(s)
	for b.Loop() {
		v.Matches("s3cret")
	}
}
